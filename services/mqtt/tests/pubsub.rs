//! The MQTT model end to end through our broker: wildcard filters deliver exactly the matching
//! topics at QoS 0, 1 and 2, and a retained reading reaches a subscriber that comes later.

mod support;

use support::*;

#[test]
fn wildcard_filters_deliver_exactly_matching_topics_at_every_qos() {
    for qos in ["0", "1", "2"] {
        let (_broker, addr) = broker(&[]);
        wildcard_delivery(&addr, qos);
    }
}

#[test]
fn retained_reading_reaches_a_later_subscriber() {
    let (_broker, addr) = broker(&[]);
    // One reading per topic, retained, while nobody is subscribed.
    let p = publish(&addr, &["--count", "4", "--qos", "1", "--retain"]);
    assert_eq!(field(&p.assert_success().summary(), "received"), 4);

    let late = subscriber(&addr, &["--topics", "sensors/lab/+", "--count", "2"]).finish();
    let s = late.assert_success().summary();
    assert_eq!(
        (
            field(&s, "received"),
            field(&s, "retained"),
            field(&s, "unexpected")
        ),
        (2, 2, 0),
        "{s:?}"
    );
    late.assert_logged("(retained)");
}

#[test]
fn without_retain_a_later_subscriber_gets_nothing() {
    let (_broker, addr) = broker(&[]);
    publish(&addr, &["--count", "4", "--qos", "1"]).assert_success();
    let late = subscriber(
        &addr,
        &[
            "--topics",
            "sensors/#",
            "--count",
            "1",
            "--timeout-secs",
            "1",
        ],
    )
    .finish();
    assert!(!late.status.success());
    let s = late.summary();
    assert_eq!((field(&s, "received"), field(&s, "lost")), (0, 1), "{s:?}");
}
