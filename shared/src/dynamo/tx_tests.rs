use super::*;
use crate::dynamo::attr::s;

fn ccf(old: Option<Item>) -> CancellationReason {
    reason(Some("ConditionalCheckFailed"), old)
}

fn fine() -> CancellationReason {
    reason(Some("None"), None)
}

#[test]
fn a_cancellation_is_read_by_label_whatever_the_order_of_the_items() {
    let holder = Item::from([("developer_id".to_string(), s("d-1")), ("email".to_string(), s("a@b.c"))]);
    let one = Cancelled::new(
        vec![Label::Developer, Label::EmailMarker, Label::UsernameMarker, Label::Event, Label::Counters],
        vec![fine(), ccf(Some(holder.clone())), fine(), fine(), fine()],
    );
    let reordered = Cancelled::new(
        vec![Label::Counters, Label::UsernameMarker, Label::Event, Label::EmailMarker, Label::Developer],
        vec![fine(), fine(), fine(), ccf(Some(holder)), fine()],
    );
    for c in [one, reordered] {
        assert!(c.failed(Label::EmailMarker));
        assert!(!c.failed(Label::UsernameMarker));
        assert!(!c.failed(Label::Developer));
        assert!(!c.failed(Label::Invite), "a label the transaction does not have never failed");
        assert!(c.any_failed());
        assert_eq!(c.old_str(Label::EmailMarker, "developer_id").as_deref(), Some("d-1"));
        assert_eq!(c.old_str(Label::UsernameMarker, "developer_id"), None, "only a failed item returns its old item");
    }
}

#[test]
fn a_cancellation_without_a_failed_condition_is_unavailable_not_a_conflict() {
    let c = Cancelled::new(vec![Label::Developer, Label::Counters], vec![fine(), reason(Some("ThrottlingError"), None)]);
    assert!(!c.any_failed());
    assert!(matches!(c.unavailable(), StoreError::Unavailable(m) if m.contains("ThrottlingError")));
}

#[test]
fn the_builder_keeps_a_label_beside_each_item_in_request_order() {
    let db = Dynamo::offline();
    let mut tx = Tx::new(&db);
    tx.create(Label::Developer, key("DEV#1".into(), keys::PROFILE)).unwrap();
    tx.put_if(Label::Invite, key("INVITE#1".into(), keys::INVITE_SK), Expr::new("version = :v").value(":v", n(1))).unwrap();
    tx.delete(Label::InviteMarker, key("PORTAL#p#INVITE#a".into(), keys::UNIQUE)).unwrap();
    tx.count(Uuid::nil(), &[(DeveloperState::Pending, 1)]).unwrap();
    assert_eq!(tx.labels(), [Label::Developer, Label::Invite, Label::InviteMarker, Label::Counters]);
    assert_eq!(tx.len(), 4);
    let pk = |i: usize| {
        let t = &tx.items[i];
        let k = t.put.as_ref().map(|p| p.item()).or(t.delete.as_ref().map(|d| d.key())).or(t.update.as_ref().map(|u| u.key()));
        item_str(k.unwrap(), "pk").unwrap()
    };
    assert_eq!(pk(0), "DEV#1");
    assert_eq!(pk(1), "INVITE#1");
    assert_eq!(pk(2), "PORTAL#p#INVITE#a");
    assert_eq!(pk(3), keys::portal(Uuid::nil()));
    let counters = tx.items[3].update.as_ref().unwrap();
    assert_eq!(counters.update_expression(), "ADD #c0 :d0");
    assert_eq!(counters.expression_attribute_names().unwrap()["#c0"], "pending");
}

#[test]
fn a_condition_without_placeholders_sends_no_empty_maps() {
    let db = Dynamo::offline();
    let mut tx = Tx::new(&db);
    tx.delete_if(Label::Membership, key("DEV#1".into(), "TEAM#1"), Expr::new("attribute_exists(pk)")).unwrap();
    let d = tx.items[0].delete.as_ref().unwrap();
    assert_eq!(d.condition_expression(), Some("attribute_exists(pk)"));
    assert!(d.expression_attribute_values().is_none() && d.expression_attribute_names().is_none());
}

#[test]
fn a_transaction_conflict_is_retried_with_growing_jittered_delays() {
    let reasons = [None, Some("TransactionConflict"), Some("None")];
    let d0 = transaction_retry_delay(&reasons, 0, 0.5).unwrap();
    let d3 = transaction_retry_delay(&reasons, 3, 0.5).unwrap();
    assert!(d3 > d0);
    assert_ne!(transaction_retry_delay(&reasons, 1, 0.0), transaction_retry_delay(&reasons, 1, 1.0), "jitter spreads retries");
}

#[test]
fn a_transaction_conflict_is_given_up_after_a_bounded_number_of_attempts() {
    let reasons = [Some("TransactionConflict")];
    assert!(transaction_retry_delay(&reasons, 4, 0.5).is_some());
    assert!(transaction_retry_delay(&reasons, 5, 0.5).is_none());
}

#[test]
fn a_failed_condition_is_never_retried() {
    assert!(transaction_retry_delay(&[Some("ConditionalCheckFailed"), Some("TransactionConflict")], 0, 0.5).is_none());
    assert!(transaction_retry_delay(&[Some("ConditionalCheckFailed")], 0, 0.5).is_none());
    assert!(transaction_retry_delay(&[None, None], 0, 0.5).is_none());
}
