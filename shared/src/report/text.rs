//! The text of a row's `Result` cell.

use crate::model::{FieldError, RowStatus};

/// The Result cell of one row: `Success`, `Updated`, `Skipped: REASON` (the
/// first error's message, else "already exists"), `Valid`, `Not processed`,
/// `Unchanged`, `Disabled` (sync runs), or
/// `Error: ` with every error as `FIELD: MESSAGE`, joined by `; `.
pub fn result_text(status: RowStatus, errors: &[FieldError]) -> String {
    match status {
        RowStatus::Created => "Success".to_owned(),
        RowStatus::Updated => "Updated".to_owned(),
        RowStatus::Valid => "Valid".to_owned(),
        RowStatus::NotProcessed => "Not processed".to_owned(),
        RowStatus::Unchanged => "Unchanged".to_owned(),
        RowStatus::Disabled => "Disabled".to_owned(),
        RowStatus::Skipped => {
            let reason = errors
                .first()
                .map_or("already exists", |e| e.message.as_str());
            format!("Skipped: {reason}")
        }
        RowStatus::Failed if errors.is_empty() => "Error".to_owned(),
        RowStatus::Failed => {
            let problems: Vec<String> = errors
                .iter()
                .map(|e| match e.field.as_str() {
                    "" => e.message.clone(),
                    field => format!("{field}: {}", e.message),
                })
                .collect();
            format!("Error: {}", problems.join("; "))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_status_has_its_words() {
        assert_eq!(result_text(RowStatus::Created, &[]), "Success");
        assert_eq!(result_text(RowStatus::Updated, &[]), "Updated");
        assert_eq!(result_text(RowStatus::Valid, &[]), "Valid");
        assert_eq!(result_text(RowStatus::NotProcessed, &[]), "Not processed");
        assert_eq!(
            result_text(RowStatus::Skipped, &[]),
            "Skipped: already exists"
        );
        assert_eq!(result_text(RowStatus::Failed, &[]), "Error");
    }

    #[test]
    fn a_skip_gives_its_reason() {
        let reason = FieldError::new("Email", "email_taken", "a technician has this email");
        assert_eq!(
            result_text(RowStatus::Skipped, &[reason]),
            "Skipped: a technician has this email"
        );
    }

    #[test]
    fn a_failure_names_every_problem_and_its_column() {
        let errors = [
            FieldError::new(
                "Password",
                "weak_password",
                "too weak (strength 1 of 4, needs 2)",
            ),
            FieldError::new("Enabled", "invalid_boolean", "'maybe' is not yes or no"),
        ];
        assert_eq!(
            result_text(RowStatus::Failed, &errors),
            "Error: Password: too weak (strength 1 of 4, needs 2); Enabled: 'maybe' is not yes or no"
        );
    }
}
