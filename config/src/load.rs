//! Loading a plan: syntax, then structure section by section, then meaning.

use std::path::Path;

use sha2::{Digest, Sha256};
use toml::de::DeTable;

use crate::locate::{FieldPath, LineIndex};
use crate::model::Plan;
use crate::problem::Problem;
use crate::report::Report;
use crate::{LoadedPlan, PlanError, PlanSource, sections, validate};

/// Reads and validates a plan file.
pub fn load_file(path: &Path) -> Result<LoadedPlan, PlanError> {
    let text = std::fs::read_to_string(path).map_err(|source| PlanError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let plan =
        load_str(&path.display().to_string(), &text).map_err(|problems| PlanError::Invalid {
            path: path.to_path_buf(),
            problems,
        })?;
    Ok(LoadedPlan {
        plan,
        source: PlanSource::File(path.to_path_buf()),
        digest: digest(&text),
    })
}

/// Validates plan text; `file_name` only labels the problems. Every problem is reported,
/// sorted by line and column.
pub fn load_str(file_name: &str, text: &str) -> Result<Plan, Vec<Problem>> {
    let (root, errors) = DeTable::parse_recoverable(text);
    if !errors.is_empty() {
        return Err(syntax_problems(file_name, text, &errors));
    }
    let mut report = Report::new(file_name, text, &root);
    validate::secrets::scan(report.root(), &mut report);
    let plan = sections::build(report.root(), &mut report);
    validate::check(&plan, &mut report);
    report.finish().map(|()| plan)
}

/// Hex SHA-256 of the plan text: the plan version approvals bind to.
pub fn digest(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

fn syntax_problems(file_name: &str, text: &str, errors: &[toml::de::Error]) -> Vec<Problem> {
    let lines = LineIndex::new(text);
    let mut problems: Vec<Problem> = errors
        .iter()
        .map(|e| {
            let (line, column) = lines.line_col(e.span().map_or(0, |s| s.start));
            Problem {
                file: file_name.to_owned(),
                line,
                column,
                path: FieldPath::root().to_string(),
                message: format!("invalid TOML: {}", e.message().trim()),
                hint: "strings need double quotes, tables are written [name], lists [a, b]; see config/examples/plan.toml".to_owned(),
            }
        })
        .collect();
    problems.sort_by_key(|p| (p.line, p.column));
    problems.dedup_by(|a, b| a.line == b.line && a.column == b.column && a.message == b.message);
    problems
}

#[cfg(test)]
mod tests;
