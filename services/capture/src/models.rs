//! The models pola captures and the BPF filter of each: the ports its hub listens on, so that a
//! capture holds the model's conversations and nothing else (no DNS, no healthchecks).

/// Every model, in the order `make capture` runs them.
pub const MODELS: [&str; 6] = ["mqtt", "tcp", "rest", "reqrep", "pushpull", "pubsub"];

/// The encrypted twins, captured the same way on their TLS ports.
pub const VARIANTS: [&str; 2] = ["mqtt-tls", "rest-tls"];

/// The BPF filter for `model`, or an error listing the valid models.
pub fn filter(model: &str) -> anyhow::Result<&'static str> {
    Ok(match model {
        "mqtt" => "tcp port 1883",
        "tcp" => "tcp port 7000",
        "rest" => "tcp port 8080",
        "reqrep" => "tcp port 5555",
        // The sink shares the pusher's namespace, so one capture holds both halves of the pipeline.
        "pushpull" => "tcp port 5557 or tcp port 5558",
        "pubsub" => "tcp port 5556",
        "mqtt-tls" => "tcp port 8883",
        "rest-tls" => "tcp port 8443",
        other => anyhow::bail!(
            "unknown model {other:?}; valid models: {}, {}",
            MODELS.join(", "),
            VARIANTS.join(", ")
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_model_has_a_filter_and_unknown_names_list_the_valid_ones() {
        for model in MODELS.into_iter().chain(VARIANTS) {
            assert!(filter(model).unwrap().starts_with("tcp port"), "{model}");
        }
        let err = filter("amqp").unwrap_err().to_string();
        assert!(
            err.contains("amqp") && err.contains("mqtt, tcp, rest, reqrep, pushpull, pubsub"),
            "{err}"
        );
    }
}
