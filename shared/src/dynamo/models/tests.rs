//! The item models against items as stored. `fixtures_old_code.json` holds one item of every
//! kind and variant exactly as the adapter before the item models built it (captured from that
//! code); `fixtures_stack.json` holds items a run of the integration suite left in the local
//! table (the same kinds after updates in place: decided approvals, touched developers, sent
//! mail markers, moved counters).

use std::collections::BTreeMap;

use aws_sdk_dynamodb::types::AttributeValue;
use serde::{de::DeserializeOwned, Serialize};
use serde_json::Value;
use uuid::Uuid;

use super::*;
use crate::dynamo::attr::item_str;
use crate::dynamo::keys;

fn av(v: &Value) -> AttributeValue {
    let (t, v) = v.as_object().and_then(|o| o.iter().next()).expect("a typed attribute value");
    match t.as_str() {
        "S" => AttributeValue::S(v.as_str().unwrap().into()),
        "N" => AttributeValue::N(v.as_str().unwrap().into()),
        "BOOL" => AttributeValue::Bool(v.as_bool().unwrap()),
        "NULL" => AttributeValue::Null(v.as_bool().unwrap()),
        "L" => AttributeValue::L(v.as_array().unwrap().iter().map(av).collect()),
        "M" => AttributeValue::M(v.as_object().unwrap().iter().map(|(k, v)| (k.clone(), av(v))).collect()),
        other => panic!("unexpected attribute type {other}"),
    }
}

fn fixtures(src: &str) -> BTreeMap<String, Item> {
    let all: BTreeMap<String, serde_json::Map<String, Value>> = serde_json::from_str(src).unwrap();
    all.into_iter().map(|(name, item)| (name, item.iter().map(|(k, v)| (k.clone(), av(v))).collect())).collect()
}

fn old_code() -> BTreeMap<String, Item> {
    fixtures(include_str!("fixtures_old_code.json"))
}

/// Read into the domain and written back.
fn via_domain<M: Model>(item: &Item) -> Item {
    encode::<M>(&decode::<M>(item.clone()).expect("decodes")).expect("encodes")
}

/// Read into the model and written back.
fn via_model<M: Serialize + DeserializeOwned>(item: &Item) -> Item {
    to_item(&from_item::<M>(item.clone()).expect("decodes")).expect("encodes")
}

/// The item again through the models of its kind, domain first where there is one.
fn round_trips(item: &Item) -> Vec<Item> {
    match item_str(item, "kind").as_deref().expect("every item has a kind") {
        keys::kind::PORTAL => vec![via_domain::<PortalItem>(item), via_model::<PortalItem>(item)],
        keys::kind::COUNTERS => vec![via_model::<CountersItem>(item)],
        keys::kind::DEVELOPER => vec![via_domain::<DeveloperItem>(item), via_model::<DeveloperItem>(item)],
        keys::kind::UNIQUE if item.contains_key("team_id") => vec![via_model::<TeamNameMarker>(item)],
        keys::kind::UNIQUE => vec![via_model::<LoginMarker>(item)],
        keys::kind::APPROVAL => vec![via_domain::<ApprovalItem>(item), via_model::<ApprovalItem>(item)],
        keys::kind::EVENT => vec![via_model::<EventItem>(item)],
        keys::kind::MAIL_MARKER => vec![via_model::<MailMarkerItem>(item)],
        keys::kind::INVITE => vec![via_domain::<InviteItem>(item), via_model::<InviteItem>(item)],
        keys::kind::INVITE_MARKER => vec![via_model::<InviteMarkerItem>(item)],
        keys::kind::LINK => vec![via_model::<LinkItem>(item)],
        keys::kind::SESSION => vec![via_domain::<SessionItem>(item), via_model::<SessionItem>(item)],
        keys::kind::TEAM => vec![via_domain::<TeamItem>(item), via_model::<TeamItem>(item)],
        keys::kind::MEMBERSHIP => vec![via_model::<MembershipItem>(item)],
        keys::kind::APPLICATION => vec![via_domain::<AppItem>(item), via_model::<AppItem>(item)],
        keys::kind::CREDENTIAL => vec![via_domain::<CredentialItem>(item), via_model::<CredentialItem>(item)],
        keys::kind::ADMIN_TOKEN => vec![via_domain::<AdminTokenItem>(item), via_model::<AdminTokenItem>(item)],
        other => panic!("no model for kind {other}"),
    }
}

#[test]
fn every_item_the_old_adapter_wrote_is_read_and_written_back_byte_for_byte() {
    let all = old_code();
    for (name, item) in &all {
        for again in round_trips(item) {
            assert_eq!(&again, item, "{name}");
        }
    }
    // Events and links through the domain too (their models also hold attributes only
    // updates write, or a used link's flag).
    for name in ["event", "event_invite", "link", "link_verify"] {
        let item = &all[name];
        let mut again = if name.starts_with("event") { via_domain::<EventItem>(item) } else { via_domain::<LinkItem>(item) };
        if name.starts_with("event") {
            // Written again, an old event gains the audit trail's index keys, nothing else.
            for k in ["gsi1pk", "gsi1sk", "gsi2pk", "gsi2sk", "gsi3pk", "gsi3sk"] {
                let v = again.remove(k);
                assert!(v.is_some() || k.starts_with("gsi1"), "{name} {k}");
            }
        }
        assert_eq!(&again, item, "{name}");
    }
    let kinds: std::collections::BTreeSet<String> = all.values().filter_map(|i| item_str(i, "kind")).collect();
    let expected = [
        keys::kind::PORTAL,
        keys::kind::COUNTERS,
        keys::kind::DEVELOPER,
        keys::kind::UNIQUE,
        keys::kind::APPROVAL,
        keys::kind::EVENT,
        keys::kind::MAIL_MARKER,
        keys::kind::INVITE,
        keys::kind::INVITE_MARKER,
        keys::kind::LINK,
        keys::kind::SESSION,
        keys::kind::TEAM,
        keys::kind::MEMBERSHIP,
        keys::kind::APPLICATION,
        keys::kind::CREDENTIAL,
        keys::kind::ADMIN_TOKEN,
    ];
    assert_eq!(kinds, expected.iter().map(|k| k.to_string()).collect(), "a captured item of every kind with a model");
}

#[test]
fn the_items_built_beside_a_domain_value_are_the_ones_the_old_adapter_built() {
    let all = old_code();
    let dev = decode::<DeveloperItem>(all["developer"].clone()).unwrap();
    let bot = decode::<DeveloperItem>(all["developer_minimal"].clone()).unwrap();
    let team = decode::<TeamItem>(all["team"].clone()).unwrap();
    let invite = decode::<InviteItem>(all["invite"].clone()).unwrap();
    let link = decode::<LinkItem>(all["link"].clone()).unwrap();
    let event = decode::<EventItem>(all["event"].clone()).unwrap();
    let built = [
        ("email_marker", to_item(&LoginMarker::new(keys::email_marker(dev.portal_id, "ada@example.com"), &dev))),
        ("username_marker", to_item(&LoginMarker::new(keys::username_marker(dev.portal_id, "ada_l"), &dev))),
        ("username_marker_no_email", to_item(&LoginMarker::new(keys::username_marker(bot.portal_id, "ops-bot"), &bot))),
        ("team_name_marker", to_item(&TeamNameMarker::new(&team))),
        ("team_membership", to_item(&MembershipItem::new(&team, dev.id))),
        ("invite_marker", to_item(&InviteMarkerItem::new(&invite))),
        ("link_used", to_item(&LinkItem::used(&link))),
        ("counters", to_item(&CountersItem::zero(dev.portal_id))),
        ("mail_marker", to_item(&MailMarkerItem::claim(event.id, "approved", event.at, 120))),
    ];
    for (name, item) in built {
        assert_eq!(item.unwrap(), all[name], "{name}");
    }
}

/// Timestamps in their parsed form: updates in place write them with a fixed precision.
fn normalized(item: &Item) -> Item {
    fn norm(v: &AttributeValue) -> AttributeValue {
        match v {
            AttributeValue::S(s) => match chrono::DateTime::parse_from_rfc3339(s) {
                Ok(t) => AttributeValue::S(t.with_timezone(&chrono::Utc).to_rfc3339()),
                Err(_) => v.clone(),
            },
            AttributeValue::M(m) => AttributeValue::M(normalized(m)),
            AttributeValue::L(l) => AttributeValue::L(l.iter().map(norm).collect()),
            other => other.clone(),
        }
    }
    item.iter().map(|(k, v)| (k.clone(), norm(v))).collect()
}

#[test]
fn every_item_a_run_of_the_suite_left_in_the_table_is_read_and_written_back() {
    let all = fixtures(include_str!("fixtures_stack.json"));
    let mut read = 0;
    for (name, item) in &all {
        // Throttle counters are only ever written by update expressions: no model.
        if item_str(item, "kind").as_deref() == Some(keys::kind::THROTTLE) {
            continue;
        }
        for again in round_trips(item) {
            let mut expected = normalized(item);
            if !again.contains_key("mail_failures") {
                expected.remove("mail_failures");
            }
            assert_eq!(normalized(&again), expected, "{name}");
        }
        read += 1;
    }
    assert!(read >= 20, "the stack fixture covers the kinds ({read} items)");
    let id = Uuid::parse_str(&item_str(&all["developer_0"], "id").unwrap()).unwrap();
    assert_eq!(decode::<DeveloperItem>(all["developer_0"].clone()).unwrap().id, id);
}
