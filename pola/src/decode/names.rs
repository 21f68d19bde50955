//! Names for the addresses of a capture, from a hosts file (`IP name [aliases]`, `#` comments)
//! as compose names its services; `captures/<model>.hosts` sits beside each compose capture.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::path::Path;

use anyhow::Context;

/// Addresses named by a hosts file.
#[derive(Default)]
pub struct Names(HashMap<IpAddr, String>);

impl Names {
    /// Reads the hosts file at `path`.
    pub fn load(path: &Path) -> anyhow::Result<Names> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading hosts file {}", path.display()))?;
        let mut names = HashMap::new();
        for line in text.lines() {
            let line = line.split('#').next().unwrap_or("");
            let mut words = line.split_whitespace();
            if let (Some(ip), Some(name)) = (words.next(), words.next()) {
                let ip: IpAddr = ip
                    .parse()
                    .with_context(|| format!("{}: {ip:?} is not an IP address", path.display()))?;
                names.insert(ip, name.to_string());
            }
        }
        Ok(Names(names))
    }

    /// The hosts file for a capture: `hosts` if given (it must exist), else `<capture>.hosts`
    /// if it exists; a capture read from standard input (`-`) has no default.
    pub fn for_capture(pcap: &Path, hosts: Option<&Path>) -> anyhow::Result<Names> {
        match hosts {
            Some(h) => Names::load(h),
            None if pcap == Path::new("-") => Ok(Names::default()),
            None => {
                let default = pcap.with_extension("hosts");
                if default.exists() {
                    Names::load(&default)
                } else {
                    Ok(Names::default())
                }
            }
        }
    }

    pub fn name(&self, ip: &IpAddr) -> Option<&str> {
        self.0.get(ip).map(String::as_str)
    }

    /// The address named `name`, or whose name joins it with others by `/` (compose writes a
    /// namespace's aliases that way: `pusher/sink`).
    pub fn address(&self, name: &str) -> Option<IpAddr> {
        self.0
            .iter()
            .find(|(_, n)| n.split('/').any(|part| part == name))
            .map(|(ip, _)| *ip)
    }

    /// `name:port` where the address is known, else `ip:port`.
    pub fn endpoint(&self, addr: &SocketAddr) -> String {
        match self.name(&addr.ip()) {
            Some(n) => format!("{n}:{}", addr.port()),
            None => addr.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_is_found_by_its_name_or_one_of_its_aliases() {
        let names = Names(HashMap::from([
            ("10.202.5.2".parse().unwrap(), "pusher/sink".to_string()),
            ("10.202.5.4".parse().unwrap(), "worker-2".to_string()),
        ]));
        assert_eq!(names.address("worker-2"), "10.202.5.4".parse().ok());
        assert_eq!(names.address("sink"), "10.202.5.2".parse().ok());
        assert_eq!(names.address("pusher"), "10.202.5.2".parse().ok());
        assert_eq!(names.address("worker"), None);
        assert_eq!(names.address("pusher/sink"), None);
    }
}
