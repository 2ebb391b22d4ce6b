//! Input checking shared by the use cases: per-field results collected into one validation
//! error naming every bad field, and the common query parameters (`limit`, descriptions).

use crate::domain::FieldError;
use crate::error::AppError;

/// Collects per-field parse results into one validation error naming every bad field.
#[derive(Default)]
pub struct Fields(Vec<FieldError>);

impl Fields {
    pub fn check<T>(&mut self, field: &str, r: Result<T, String>) -> Option<T> {
        match r {
            Ok(v) => Some(v),
            Err(m) => {
                self.0.push(FieldError::new(field, m));
                None
            }
        }
    }
    pub fn push(&mut self, field: &str, message: impl Into<String>) {
        self.0.push(FieldError::new(field, message));
    }
    /// Adds field errors found elsewhere (settings, templates).
    pub fn extend(&mut self, errors: impl IntoIterator<Item = FieldError>) {
        self.0.extend(errors);
    }
    pub fn finish(self) -> Result<(), AppError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(AppError::Invalid(self.0))
        }
    }
}

/// A page size: 1 to 100, 50 when not given.
pub fn parse_limit(raw: Option<&str>, f: &mut Fields) -> usize {
    match raw {
        None | Some("") => 50,
        Some(v) => match v.trim().parse::<usize>() {
            Ok(n) if (1..=100).contains(&n) => n,
            _ => {
                f.push("limit", "must be a whole number from 1 to 100");
                50
            }
        },
    }
}

/// An optional description: at most 500 characters, no control characters but newlines.
pub fn parse_description(raw: &Option<String>, f: &mut Fields) -> Option<String> {
    match raw.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(d) if d.chars().count() > 500 || d.chars().any(|c| c.is_control() && c != '\n') => {
            f.push("description", "must be at most 500 characters without control characters");
            None
        }
        Some(d) => Some(d.to_string()),
    }
}
