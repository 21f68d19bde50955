//! pola's six models as a type: the stream tracker says which one a stream belongs to, `pola
//! inspect --model` filters by it, and the report orders captures and picks proofs by it.

/// A communication model pola runs and captures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, clap::ValueEnum)]
pub enum Model {
    Mqtt,
    Tcp,
    Rest,
    Reqrep,
    Pushpull,
    Pubsub,
}

impl Model {
    /// Every model, in the order the report shows them.
    pub const ALL: [Model; 6] = [
        Model::Mqtt,
        Model::Tcp,
        Model::Rest,
        Model::Reqrep,
        Model::Pushpull,
        Model::Pubsub,
    ];

    /// The name used by `make capture-<name>`, the capture files and the stream tracker.
    pub fn name(self) -> &'static str {
        match self {
            Model::Mqtt => "mqtt",
            Model::Tcp => "tcp",
            Model::Rest => "rest",
            Model::Reqrep => "reqrep",
            Model::Pushpull => "pushpull",
            Model::Pubsub => "pubsub",
        }
    }

    pub fn from_name(name: &str) -> Option<Model> {
        Model::ALL.into_iter().find(|m| m.name() == name)
    }
}

impl std::fmt::Display for Model {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::Model;

    /// The enum is how the report matches a model to its proof; the table is where models are
    /// listed. Adding a row to models.tsv without a variant here (or the other way) fails.
    #[test]
    fn the_enum_holds_the_plain_models_of_the_table_in_its_order() {
        let names: Vec<&str> = Model::ALL.iter().map(|m| m.name()).collect();
        assert_eq!(names, common::models::plain().collect::<Vec<_>>());
    }
}
