//! `explain`: the facts told as prose, from templates in `templates/explain/` with placeholders
//! filled from the facts.

use crate::cli::Topic;
use crate::facts::Facts;
use crate::findings::Recommendation;

/// Render the explanation for a topic.
pub fn render(facts: &Facts, rec: &Recommendation, topic: Topic) -> String {
    let _ = (facts, rec, topic);
    String::new()
}
