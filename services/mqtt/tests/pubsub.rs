//! The MQTT model end to end through our broker: wildcard filters deliver exactly the matching
//! topics at QoS 0, 1 and 2, and a retained reading reaches a subscriber that comes later.

mod support;

use support::*;

/// Eight readings cycle over lab/office x temp/humidity: `sensors/#` must get all eight and
/// `sensors/lab/+` exactly the four lab ones, nothing outside its filter.
fn wildcard_delivery(qos: &str) {
    let (_broker, addr) = broker(&[]);
    let all = subscriber(
        &addr,
        &["--topics", "sensors/#", "--qos", qos, "--count", "8"],
    );
    let lab = subscriber(
        &addr,
        &["--topics", "sensors/lab/+", "--qos", qos, "--count", "4"],
    );
    // A third filter that matches nothing published: it must receive nothing.
    let none = subscriber(
        &addr,
        &["--topics", "actuators/#", "--qos", qos, "--count", "0"],
    );

    let published = publish(&addr, &["--count", "8", "--qos", qos]);
    let p = published.assert_success().summary();
    assert_eq!(
        (field(&p, "sent"), field(&p, "received"), field(&p, "lost")),
        (8, 8, 0),
        "{p:?}"
    );
    assert_eq!(p["qos"], qos);

    let all = all.finish();
    delivered(&all, 8);
    assert_eq!(
        all.stderr.matches("sensors/office/").count(),
        4,
        "{}",
        all.stderr
    );

    let lab = lab.finish();
    delivered(&lab, 4);
    assert!(!lab.stderr.contains("sensors/office/"), "{}", lab.stderr);

    let s = none.finish().assert_success().summary();
    assert_eq!(field(&s, "received"), 0, "{s:?}");
}

#[test]
fn wildcard_filters_deliver_exactly_matching_topics_qos0() {
    wildcard_delivery("0");
}

#[test]
fn wildcard_filters_deliver_exactly_matching_topics_qos1() {
    wildcard_delivery("1");
}

#[test]
fn wildcard_filters_deliver_exactly_matching_topics_qos2() {
    wildcard_delivery("2");
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
    assert!(late.stderr.contains("(retained)"), "{}", late.stderr);
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
