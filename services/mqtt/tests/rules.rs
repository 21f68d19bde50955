//! The library's rules, checked without a broker or a socket: the QoS flag, the connect address,
//! topic filters and their wildcards, the publisher's topics and payloads, and the `${ENV:NAME}`
//! expansion of rmqtt's settings.

use clap::Parser;
use pola_mqtt::publisher::{reading, Args};
use pola_mqtt::subscriber::{matches_any, parse_filter};
use pola_mqtt::{client_options, parse_qos, qos_number};
use rmqtt::utils::expand_env_vars;
use rumqttc::QoS;

/// rmqtt expands `${ENV:NAME}` in its settings; pola's copy of rmqtt-utils does it without a
/// regex, and must keep the regex's matches: prefix in any case, NAME of letters, digits and
/// `_`, and anything else left as written.
#[test]
fn env_placeholders_expand_as_the_regex_did() {
    std::env::set_var("POLA_TEST_USER", "ana");
    std::env::set_var("pola_test_lower", "low");
    std::env::remove_var("POLA_TEST_UNSET");
    let cases = [
        ("${ENV:POLA_TEST_USER}", "ana"),
        ("${env:POLA_TEST_USER}", "ana"),
        (
            "mqtt://${Env:POLA_TEST_USER}@${ENV:pola_test_lower}/x",
            "mqtt://ana@low/x",
        ),
        ("a${ENV:POLA_TEST_UNSET}b", "ab"),
        ("$${ENV:POLA_TEST_USER}}", "$ana}"),
        ("${ENV:}", "${ENV:}"),
        ("${ENV:POLA-TEST}", "${ENV:POLA-TEST}"),
        ("${ENV:POLA_TEST_USER", "${ENV:POLA_TEST_USER"),
        ("${ENVX:POLA_TEST_USER}", "${ENVX:POLA_TEST_USER}"),
        ("${${ENV:POLA_TEST_USER}}", "${ana}"),
        ("plain ${ and $ text", "plain ${ and $ text"),
        ("${EN", "${EN"),
        ("ü${ENV:POLA_TEST_USER}ü", "üanaü"),
    ];
    for (input, want) in cases {
        assert_eq!(expand_env_vars(input), want, "input {input:?}");
    }
}

#[test]
fn qos_flag_accepts_only_0_1_2() {
    assert_eq!(parse_qos("0"), Ok(QoS::AtMostOnce));
    assert_eq!(parse_qos("2"), Ok(QoS::ExactlyOnce));
    assert!(parse_qos("3").unwrap_err().contains("'3'"));
    assert_eq!(qos_number(QoS::AtLeastOnce), 1);
}

#[test]
fn connect_address_needs_a_port() {
    assert!(client_options("x", "broker:1883").is_ok());
    let err = client_options("x", "broker").unwrap_err().to_string();
    assert!(err.contains("broker"), "{err}");
    assert!(client_options("x", "broker:http").is_err());
}

#[test]
fn wildcards_follow_mqtt_rules() {
    let lab = vec!["sensors/lab/+".to_string()];
    assert!(matches_any("sensors/lab/temp", &lab));
    assert!(!matches_any("sensors/office/temp", &lab));
    assert!(!matches_any("sensors/lab/temp/raw", &lab));
    let all = vec!["sensors/#".to_string()];
    assert!(matches_any("sensors/office/humidity", &all));
    assert!(!matches_any("actuators/lab/fan", &all));
}

#[test]
fn bad_filters_are_refused() {
    assert!(parse_filter("sensors/#/lab").is_err());
    assert!(parse_filter("sensors/la+b").is_err());
    assert!(parse_filter("sensors/+/temp").is_ok());
}

fn args(extra: &[&str]) -> Args {
    Args::parse_from(["mqtt-publisher"].iter().chain(extra))
}

#[test]
fn topics_cycle_over_rooms_then_kinds() {
    let a = args(&[]);
    let topics: Vec<String> = (0..5).map(|i| reading(&a, i).0).collect();
    assert_eq!(
        topics,
        [
            "sensors/lab/temp",
            "sensors/office/temp",
            "sensors/lab/humidity",
            "sensors/office/humidity",
            "sensors/lab/temp"
        ]
    );
}

#[test]
fn payload_is_json_padded_to_size() {
    let (_, small) = reading(&args(&[]), 3);
    let json: serde_json::Value = serde_json::from_slice(&small).unwrap();
    assert_eq!(json["seq"], 3);
    assert!(json.get("pad").is_none());
    let (_, padded) = reading(&args(&["--size", "300"]), 3);
    assert_eq!(padded.len(), 300);
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&padded).unwrap()["room"],
        "office"
    );
}
