//! Row validation (`NewTechnician::parse`) on any record under any rules.
//! The first two bytes choose the rules (layout, global group, password
//! length and strength); the rest is the text of the cells, separated by the
//! unit separator 0x1F.
#![no_main]

use libfuzzer_sys::fuzz_target;
use roster_shared::model::{Layout, Record};
use roster_shared::validate::{NewTechnician, RowRules, email_key};

fuzz_target!(|data: &[u8]| {
    let [flags, length, rest @ ..] = data else {
        return;
    };
    let rules = RowRules {
        layout: match flags & 1 | (flags >> 6) & 2 {
            0 => Layout::Full,
            2 => Layout::Hashed,
            _ => Layout::Short,
        },
        global_group: (flags & 2 != 0).then_some(roster_shared::model::GroupId::new(7)),
        min_password_length: usize::from(length % 65),
        min_password_strength: (flags >> 2) % 5,
        strength_memo: None,
    };
    let text = String::from_utf8_lossy(rest);
    let record = Record {
        row: 2,
        cells: text.split('\u{1F}').map(str::to_owned).collect(),
        errors: Vec::new(),
    };
    match NewTechnician::parse(&record, &rules) {
        Ok(technician) => {
            assert_eq!(technician.email_key, email_key(&technician.email));
            assert!(technician.group_id.get() > 0);
        }
        Err(problems) => {
            assert!(!problems.is_empty(), "a refusal names a problem");
            for problem in &problems {
                assert!(
                    problem.message.len() < 1_024,
                    "a message of {} bytes",
                    problem.message.len()
                );
            }
        }
    }
});
