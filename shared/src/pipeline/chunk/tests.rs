use super::{looks_up_emails, split_owned};
use crate::model::LicenseSeats;
use crate::model::OnExisting;

#[test]
fn only_a_first_failing_import_with_unlimited_seats_skips_the_lookup() {
    let unlimited = LicenseSeats {
        standard_seats: None,
        mobile_seats: None,
    };
    let limited = LicenseSeats {
        standard_seats: None,
        mobile_seats: Some(5),
    };
    assert!(!looks_up_emails(false, true, OnExisting::Fail, &unlimited));
    assert!(
        looks_up_emails(true, true, OnExisting::Fail, &unlimited),
        "dry run"
    );
    assert!(
        looks_up_emails(false, false, OnExisting::Fail, &unlimited),
        "had technicians"
    );
    assert!(
        looks_up_emails(false, true, OnExisting::Skip, &unlimited),
        "skip"
    );
    assert!(
        looks_up_emails(false, true, OnExisting::Update, &unlimited),
        "update"
    );
    assert!(
        looks_up_emails(false, true, OnExisting::Fail, &limited),
        "seats"
    );
}

#[test]
fn split_owned_keeps_order_and_sizes() {
    let runs = split_owned((1..=7).collect::<Vec<_>>(), 3);
    assert_eq!(runs, vec![vec![1, 2, 3], vec![4, 5, 6], vec![7]]);
    assert!(split_owned(Vec::<u8>::new(), 3).is_empty());
    assert_eq!(split_owned(vec![1, 2], 0), vec![vec![1], vec![2]]);
}
