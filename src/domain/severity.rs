//! Severity grades and hazard tags, and `classify`: the one place that grades a failure report,
//! explainably (every fired rule with its evidence) and conservatively (any hazard signal is
//! safety-critical; negation only cancels a signal within its own clause; repeats escalate).

use serde::{Deserialize, Serialize};

use super::net::Judgement;
use super::rules::RuleSet;
use super::signoff::FailedItem;

/// How bad a failure is, from a nuisance to a danger to people. Ordered: a higher grade is worse.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Nuisance,
    ServiceImpacting,
    SafetyCritical,
}

impl Severity {
    pub const ALL: [Severity; 3] = [Self::Nuisance, Self::ServiceImpacting, Self::SafetyCritical];

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.as_str() == s)
    }

    /// 0 for nuisance up to 2 for safety-critical (queue ordering).
    pub fn rank(self) -> i32 {
        self as i32
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Nuisance => "nuisance",
            Self::ServiceImpacting => "service_impacting",
            Self::SafetyCritical => "safety_critical",
        }
    }
}

impl std::fmt::Display for Severity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a failure can put at risk. The first seven are dangers to people.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Hazard {
    Gas,
    CarbonMonoxide,
    Electrical,
    Fire,
    Scald,
    Explosion,
    WorkingAtHeight,
    WaterDamage,
    PropertyDamage,
    ServiceOutage,
}

impl Hazard {
    /// Whether this hazard endangers people (as opposed to property or service).
    pub fn endangers_people(self) -> bool {
        matches!(
            self,
            Self::Gas
                | Self::CarbonMonoxide
                | Self::Electrical
                | Self::Fire
                | Self::Scald
                | Self::Explosion
                | Self::WorkingAtHeight
        )
    }
}

/// An essential service the customer lost, and for how long.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServiceLoss {
    pub service: String,
    pub hours: f64,
}

/// An earlier failure that makes this one a repeat.
#[derive(Debug, Clone, PartialEq)]
pub enum Repeat {
    /// The same customer had a failure `days_ago` days before this one.
    SameCustomer { incident_id: String, days_ago: i64 },
    /// The same technician failed the same checklist item before.
    SameTechnicianItem { item_id: String, incident_id: String },
}

/// What the classifier is told about a failure.
#[derive(Debug, Clone, Copy)]
pub struct FailureFacts<'a> {
    pub description: &'a str,
    pub failed_items: &'a [FailedItem],
    pub hazards: &'a [Hazard],
    pub injury: bool,
    pub vulnerable_occupant: bool,
    pub service_lost: Option<&'a ServiceLoss>,
    pub repeats: &'a [Repeat],
}

impl<'a> FailureFacts<'a> {
    /// A report that is only words: no failed items, no structured facts, no repeats.
    pub fn text(description: &'a str) -> Self {
        Self {
            description,
            failed_items: &[],
            hazards: &[],
            injury: false,
            vulnerable_occupant: false,
            service_lost: None,
            repeats: &[],
        }
    }
}

/// Why a grade was given: the rule and the evidence that fired it, and the grade it points to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Reason {
    pub rule: String,
    pub evidence: String,
    pub points_to: Severity,
}

/// Why a report waits for a person to grade it instead of being graded by the rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Triage {
    /// No rule recognised anything in the report: the rules cannot read it.
    NoSignal,
    /// The only signals are hazards the report itself denies ("no smell of gas"), and nothing
    /// says what did go wrong.
    ConflictingSignals,
    /// The rules found no danger to people, but the statistical net cannot rule one out.
    NetDoubt,
    /// The rules' only sign of danger is doubt (a smell nobody has explained, "not sure if it's
    /// gas") and the statistical net finds no danger: a person checks (from version 14).
    Unconfirmed,
}

impl Triage {
    pub fn rule(self) -> &'static str {
        match self {
            Self::NoSignal => "triage.no-signal",
            Self::ConflictingSignals => "triage.conflicting-signals",
            Self::NetDoubt => "triage.net-doubt",
            Self::Unconfirmed => "triage.unconfirmed",
        }
    }
}

/// The classifier's verdict.
#[derive(Debug, Clone, PartialEq)]
pub struct Classification {
    /// The grade; while `triage` is set, provisionally safety-critical until a person grades it.
    pub severity: Severity,
    /// Set when the rules could not grade the report: a person must, within minutes.
    pub triage: Option<Triage>,
    /// Every rule that fired, worst first.
    pub reasons: Vec<Reason>,
    pub rules_version: String,
    /// The same customer or the same technician-and-item failed before.
    pub repeat: bool,
    /// Dangers to people found in the report.
    pub hazards: Vec<Hazard>,
}

impl Classification {
    /// Marks the grading a repeat, which makes a nuisance service-impacting.
    fn mark_repeat(&mut self) {
        self.repeat = true;
        if self.severity == Severity::Nuisance {
            self.severity = Severity::ServiceImpacting;
        }
    }

    /// This grading with the report's repeats added: each is a reason pointing to service-impacting,
    /// and a repeat makes a nuisance service-impacting. Repeats touch nothing else (not the reading
    /// of the text, the net or triage), so a report can be graded before its repeats are known and
    /// have them added later: the service grades a report before its write transaction and adds the
    /// repeats it finds in it, keeping the one writer's turn short.
    #[must_use]
    pub fn with_repeats(mut self, repeats: &[Repeat]) -> Self {
        if repeats.is_empty() {
            return self;
        }
        for repeat in repeats {
            let (rule, evidence) = match repeat {
                Repeat::SameCustomer { incident_id, days_ago } => (
                    "repeat.same-customer",
                    format!("same customer failed {days_ago} days ago (incident {incident_id})"),
                ),
                Repeat::SameTechnicianItem { item_id, incident_id } => (
                    "repeat.same-technician-item",
                    format!("same technician failed item `{item_id}` before (incident {incident_id})"),
                ),
            };
            self.reasons.push(Reason { rule: rule.to_owned(), evidence, points_to: Severity::ServiceImpacting });
        }
        self.mark_repeat();
        // why: stable, so the repeats follow the other service-impacting reasons, as when graded at once.
        self.reasons.sort_by_key(|r| std::cmp::Reverse(r.points_to));
        self
    }
}

/// Grades a failure report. Total: every report gets a grade and at least one reason.
pub fn classify(facts: &FailureFacts<'_>, rules: &RuleSet) -> Classification {
    classify_judged(facts, rules, |note| judge_with_net(rules, note))
}

/// A failure's facts with the grading they were given before its write transaction. The repeats,
/// which need the database, are found inside the transaction and added with
/// [`GradedFacts::with_repeats`]. Made only by [`GradedFacts::new`], so a grading always belongs to
/// its facts and was made without repeats: the repeats are added once.
#[derive(Debug, Clone)]
pub struct GradedFacts<'a> {
    facts: FailureFacts<'a>,
    grading: Classification,
}

impl<'a> GradedFacts<'a> {
    /// Grades `facts`, which hold no repeats: those are found in the write transaction and given
    /// to [`GradedFacts::with_repeats`].
    pub fn new(facts: FailureFacts<'a>, rules: &RuleSet) -> Self {
        debug_assert!(facts.repeats.is_empty(), "repeats are added with `with_repeats`, once");
        let grading = classify(&facts, rules);
        Self { facts, grading }
    }

    /// The facts that were graded.
    pub fn facts(&self) -> &FailureFacts<'a> {
        &self.facts
    }

    /// The grading, with the repeats found in the write transaction added.
    #[must_use]
    pub fn with_repeats(self, repeats: &[Repeat]) -> Classification {
        self.grading.with_repeats(repeats)
    }
}

/// The rule set's net's judgement of a note (calm when it has none).
fn judge_with_net(rules: &RuleSet, note: &str) -> Judgement {
    rules.net.as_ref().map_or(Judgement::Calm, |net| net.judge(note))
}

/// [`classify`], with the net's judgement of the text taken from `judge` (in training, a score
/// from a model that did not see the note).
pub fn classify_judged(
    facts: &FailureFacts<'_>,
    rules: &RuleSet,
    judge: impl FnOnce(&str) -> Judgement,
) -> Classification {
    grade(facts, rules, &[], judge).with_repeats(facts.repeats)
}

/// The grading itself, without the report's repeats (see [`Classification::with_repeats`]): `kept`
/// are reasons from an earlier grading that the rule set does not decide (failed items, repeats),
/// weighed as if found now.
fn grade(
    facts: &FailureFacts<'_>,
    rules: &RuleSet,
    kept: &[Reason],
    judge: impl FnOnce(&str) -> Judgement,
) -> Classification {
    let mut reasons = Vec::new();
    let mut hazards = Vec::new();
    let mut fire = |rule: &str, evidence: String, points_to: Severity| {
        reasons.push(Reason { rule: rule.to_owned(), evidence, points_to });
    };

    for item in facts.failed_items {
        let evidence = format!("item `{}` failed: {}", item.item_id, item.reason);
        let people: Vec<Hazard> = item.hazards.iter().copied().filter(|h| h.endangers_people()).collect();
        hazards.extend(&people);
        match item.severity_hint {
            Severity::SafetyCritical => fire("item.safety-critical", evidence, Severity::SafetyCritical),
            _ if !people.is_empty() => {
                fire("item.hazard", format!("{evidence} (hazards {people:?})"), Severity::SafetyCritical)
            }
            Severity::ServiceImpacting => fire("item.service-impacting", evidence, Severity::ServiceImpacting),
            Severity::Nuisance => fire("item.nuisance", evidence, Severity::Nuisance),
        }
    }
    for hazard in facts.hazards {
        if hazard.endangers_people() {
            hazards.push(*hazard);
            fire("fact.hazard", format!("reported hazard: {hazard:?}"), Severity::SafetyCritical);
        } else {
            fire("fact.damage-or-outage", format!("reported: {hazard:?}"), Severity::ServiceImpacting);
        }
    }
    if facts.injury {
        fire("fact.injury", "someone was reported injured".to_owned(), Severity::SafetyCritical);
    }
    if let Some(loss) = facts.service_lost {
        let evidence = format!("{} lost for {} h", loss.service, loss.hours);
        let essential = rules.essential_services.iter().any(|s| s.eq_ignore_ascii_case(&loss.service));
        if facts.vulnerable_occupant && essential {
            fire(
                "fact.vulnerable-without-essential-service",
                format!("vulnerable occupant; {evidence}"),
                Severity::SafetyCritical,
            );
        } else {
            fire("fact.service-lost", evidence, Severity::ServiceImpacting);
        }
    }
    if facts.vulnerable_occupant {
        fire(
            "fact.vulnerable-occupant",
            "a vulnerable person lives at the site".to_owned(),
            Severity::ServiceImpacting,
        );
    }
    // Dangers found only by doubtful signals (see `SignalFile::doubtful`).
    let mut doubtful_dangers = 0;
    for finding in rules.scan(facts.description) {
        let danger = !finding.negated && finding.explained_by.is_none() && finding.severity == Severity::SafetyCritical;
        if finding.doubtful && danger {
            doubtful_dangers += 1;
        }
        // Most reasons are these: built by `concat` (one allocation), not `format!`.
        let (pattern, clause) = (finding.pattern, finding.clause.as_str());
        if finding.negated {
            let evidence = ["`", pattern, "` negated in \"", clause, "\" (", finding.rule, ")"].concat();
            fire("text.negated", evidence, Severity::Nuisance);
        } else if let Some(by) = finding.explained_by {
            let evidence =
                ["`", pattern, "` in \"", clause, "\" (", finding.rule, "), explained by `", by, "`"].concat();
            fire("text.explained", evidence, Severity::Nuisance);
        } else {
            hazards.extend(finding.hazard.filter(|h| h.endangers_people()));
            fire(finding.rule, ["`", pattern, "` in \"", clause, "\""].concat(), finding.severity);
        }
    }
    reasons.extend_from_slice(kept);
    // The net may only raise a grade or ask a person, and is asked only when nothing found a
    // danger to people, or only a doubtful sign of one.
    let dangers = reasons.iter().filter(|r| r.points_to == Severity::SafetyCritical).count();
    let only_doubtful = dangers == doubtful_dangers;
    let doubtful = only_doubtful && dangers > 0;
    let (mut doubt, mut unconfirmed) = (None, false);
    if only_doubtful {
        match judge(facts.description) {
            Judgement::Vote(vote) => reasons.push(Reason {
                rule: "net.safety-vote".to_owned(),
                evidence: vote.evidence(),
                points_to: Severity::SafetyCritical,
            }),
            // A doubtful sign and a doubting net agree that there may be a danger.
            Judgement::Doubt(_) if doubtful => {}
            Judgement::Doubt(d) => doubt = Some(d),
            Judgement::Calm => unconfirmed = doubtful,
        }
    }

    let mut severity = reasons.iter().map(|r| r.points_to).max().unwrap_or(Severity::Nuisance);
    // A report no rule can read is not a nuisance by default: a person grades it, and until then
    // it counts as possibly safety-critical.
    // An explained hazard (`text.explained`) weighs as a denied one: a report that only denies or
    // explains away hazards says nothing of what went wrong, and a person grades it.
    let explained = reasons.iter().any(|r| r.rule == "text.explained");
    let triage = match reasons.iter().all(|r| r.rule == "text.negated" || r.rule == "text.explained") {
        true if reasons.is_empty() => Some(Triage::NoSignal),
        true => Some(Triage::ConflictingSignals),
        false if unconfirmed => Some(Triage::Unconfirmed),
        false => doubt.map(|_| Triage::NetDoubt),
    };
    if let Some(triage) = triage {
        let evidence = match (triage, doubt) {
            (Triage::NoSignal, _) => {
                "no rule recognised a hazard, outage or damage in the report; a person grades it".to_owned()
            }
            (Triage::ConflictingSignals, _) if explained => "the report only denies or explains away hazards and \
                 says nothing else went wrong; a person grades it"
                .to_owned(),
            (Triage::ConflictingSignals, _) => {
                "the report only denies hazards and says nothing else went wrong; a person grades it".to_owned()
            }
            (Triage::NetDoubt, doubt) => doubt.map(|d| d.evidence()).unwrap_or_default(),
            (Triage::Unconfirmed, _) => "the only sign of danger is a doubtful one (above) and the statistical net \
                 finds none; a person checks and grades it"
                .to_owned(),
        };
        // First among the reasons: why a person, not the machine, grades the report.
        reasons.insert(0, Reason { rule: triage.rule().to_owned(), evidence, points_to: Severity::SafetyCritical });
        severity = Severity::SafetyCritical;
    }
    reasons.sort_by_key(|r| std::cmp::Reverse(r.points_to));
    hazards.sort();
    hazards.dedup();
    let repeat = kept.iter().any(|r| r.rule.starts_with("repeat."));
    let mut graded =
        Classification { severity, triage, reasons, rules_version: rules.version.clone(), repeat: false, hazards };
    if repeat {
        graded.mark_repeat();
    }
    graded
}

/// Grades a stored report again with another rule set: its text and structured facts are read
/// anew, and the reasons the rule set does not decide (failed checklist items, repeats) are kept
/// from the earlier grading.
pub fn reclassify(facts: &FailureFacts<'_>, kept: &[Reason], rules: &RuleSet) -> Classification {
    let kept: Vec<Reason> =
        kept.iter().filter(|r| r.rule.starts_with("item.") || r.rule.starts_with("repeat.")).cloned().collect();
    grade(facts, rules, &kept, |note| judge_with_net(rules, note)).with_repeats(facts.repeats)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::rules::{ExplainedFile, NegationFile, RuleSet, RuleSetFile};

    fn rules() -> RuleSet {
        let file: RuleSetFile = toml::from_str(
            r#"
            repeat_window_days = 90
            essential_services = ["heating", "power"]
            [spelling]
            smel = "smell"
            [negation]
            negators = ["no", "not"]
            window = 3
            clause_breaks = ["but"]
            after = ["did not go off"]
            [[signals]]
            rule = "text.gas"
            severity = "safety_critical"
            hazard = "gas"
            phrases = ["smell of gas"]
            [[signals]]
            rule = "text.no-heating"
            severity = "service_impacting"
            phrases = ["no heating"]
            [[signals]]
            rule = "text.courtesy"
            severity = "nuisance"
            phrases = ["late"]
            "#,
        )
        .expect("test rules parse");
        RuleSet::compile("severity-rules/test".into(), file).expect("test rules are valid")
    }

    /// A reason from an earlier grading, as `reclassify` is given it.
    fn kept_reason(rule: &str, points_to: Severity) -> Reason {
        Reason { rule: rule.to_owned(), evidence: "from the earlier grading".to_owned(), points_to }
    }

    fn item(hint: Severity, hazards: Vec<Hazard>) -> FailedItem {
        FailedItem { item_id: "an-item".into(), reason: "not done".into(), severity_hint: hint, hazards }
    }

    struct Row {
        rule: &'static str,
        expected: Severity,
        facts: FailureFacts<'static>,
    }

    fn facts() -> FailureFacts<'static> {
        FailureFacts {
            description: "",
            failed_items: &[],
            hazards: &[],
            injury: false,
            vulnerable_occupant: false,
            service_lost: None,
            repeats: &[],
        }
    }

    /// One row per rule: changing a rule means changing this table.
    #[test]
    fn every_rule_grades_as_its_row_says() {
        let leak = |items: Vec<FailedItem>| -> &'static [FailedItem] { Box::leak(items.into_boxed_slice()) };
        let loss = |service: &str| -> Option<&'static ServiceLoss> {
            Some(Box::leak(Box::new(ServiceLoss { service: service.into(), hours: 12.0 })))
        };
        let rows = vec![
            Row {
                rule: "item.safety-critical",
                expected: Severity::SafetyCritical,
                facts: FailureFacts {
                    failed_items: leak(vec![item(Severity::SafetyCritical, vec![Hazard::Gas])]),
                    ..facts()
                },
            },
            Row {
                rule: "item.hazard",
                expected: Severity::SafetyCritical,
                facts: FailureFacts {
                    failed_items: leak(vec![item(Severity::ServiceImpacting, vec![Hazard::Electrical])]),
                    ..facts()
                },
            },
            Row {
                rule: "item.service-impacting",
                expected: Severity::ServiceImpacting,
                facts: FailureFacts {
                    failed_items: leak(vec![item(Severity::ServiceImpacting, vec![Hazard::ServiceOutage])]),
                    ..facts()
                },
            },
            Row {
                rule: "item.nuisance",
                expected: Severity::Nuisance,
                facts: FailureFacts { failed_items: leak(vec![item(Severity::Nuisance, vec![])]), ..facts() },
            },
            Row {
                rule: "fact.hazard",
                expected: Severity::SafetyCritical,
                facts: FailureFacts { hazards: &[Hazard::CarbonMonoxide], ..facts() },
            },
            Row {
                rule: "fact.damage-or-outage",
                expected: Severity::ServiceImpacting,
                facts: FailureFacts { hazards: &[Hazard::WaterDamage], ..facts() },
            },
            Row {
                rule: "fact.injury",
                expected: Severity::SafetyCritical,
                facts: FailureFacts { injury: true, ..facts() },
            },
            Row {
                rule: "fact.service-lost",
                expected: Severity::ServiceImpacting,
                facts: FailureFacts { service_lost: loss("internet"), ..facts() },
            },
            Row {
                rule: "fact.vulnerable-without-essential-service",
                expected: Severity::SafetyCritical,
                facts: FailureFacts { vulnerable_occupant: true, service_lost: loss("heating"), ..facts() },
            },
            Row {
                rule: "fact.vulnerable-occupant",
                expected: Severity::ServiceImpacting,
                facts: FailureFacts { vulnerable_occupant: true, ..facts() },
            },
            Row {
                rule: "text.gas",
                expected: Severity::SafetyCritical,
                facts: FailureFacts { description: "strong SMEL of gas!", ..facts() },
            },
            Row {
                rule: "text.no-heating",
                expected: Severity::ServiceImpacting,
                facts: FailureFacts { description: "no heating", ..facts() },
            },
            Row {
                rule: "text.negated",
                expected: Severity::ServiceImpacting,
                facts: FailureFacts { description: "no smell of gas, no heating", ..facts() },
            },
            // Triage: provisionally safety-critical until a person grades it.
            Row {
                rule: "text.courtesy",
                expected: Severity::Nuisance,
                facts: FailureFacts { description: "engineer was late", ..facts() },
            },
            Row {
                rule: "triage.no-signal",
                expected: Severity::SafetyCritical,
                facts: FailureFacts { description: "see attached", ..facts() },
            },
            Row {
                rule: "triage.conflicting-signals",
                expected: Severity::SafetyCritical,
                facts: FailureFacts { description: "no smell of gas", ..facts() },
            },
            Row {
                rule: "repeat.same-customer",
                expected: Severity::ServiceImpacting,
                facts: FailureFacts {
                    description: "engineer was late",
                    repeats: Box::leak(Box::new([Repeat::SameCustomer { incident_id: "i1".into(), days_ago: 12 }])),
                    ..facts()
                },
            },
            Row {
                rule: "repeat.same-technician-item",
                expected: Severity::ServiceImpacting,
                facts: FailureFacts {
                    description: "engineer was late",
                    repeats: Box::leak(Box::new([Repeat::SameTechnicianItem {
                        item_id: "x".into(),
                        incident_id: "i1".into(),
                    }])),
                    ..facts()
                },
            },
        ];
        let rules = rules();
        for row in rows {
            let verdict = classify(&row.facts, &rules);
            assert_eq!(verdict.severity, row.expected, "{}: {verdict:?}", row.rule);
            assert!(verdict.reasons.iter().any(|r| r.rule == row.rule), "{} did not fire: {verdict:?}", row.rule);
            assert_eq!(verdict.rules_version, "severity-rules/test");
        }
    }

    #[test]
    fn a_hazard_is_never_graded_below_safety_critical_by_other_signals() {
        let verdict =
            classify(&FailureFacts { description: "engineer late, smell of gas but no heating", ..facts() }, &rules());
        assert_eq!(verdict.severity, Severity::SafetyCritical);
        assert_eq!(verdict.hazards, vec![Hazard::Gas]);
        assert_eq!(verdict.reasons[0].rule, "text.gas", "worst reason first");
    }

    #[test]
    fn only_a_report_no_rule_reads_goes_to_triage() {
        let rules = rules();
        let unread = classify(&FailureFacts { description: "see attached", ..facts() }, &rules);
        assert_eq!(unread.triage, Some(Triage::NoSignal));
        let denied = classify(&FailureFacts { description: "no smell of gas", ..facts() }, &rules);
        assert_eq!(denied.triage, Some(Triage::ConflictingSignals));
        for graded in ["no heating", "no smell of gas, no heating", "smell of gas"] {
            assert_eq!(classify(&FailureFacts { description: graded, ..facts() }, &rules).triage, None, "{graded}");
        }
        let with_fact = classify(&FailureFacts { description: "see attached", injury: true, ..facts() }, &rules);
        assert_eq!(with_fact.triage, None, "a structured fact is a signal");
    }

    /// A rule file with `top` (such as a harmless list), a negation of "no" within 3 words with
    /// `negation` (its clause breaks and `after` phrases), the one hazard signal `signal`, and a
    /// nuisance signal for "late", so that a note it does not read is graded rather than triaged.
    fn one_signal_file(top: &str, negation: &str, signal: &str) -> RuleSetFile {
        toml::from_str(&format!(
            r#"
            repeat_window_days = 90
            essential_services = []
            {top}
            [negation]
            negators = ["no"]
            window = 3
            {negation}
            [[signals]]
            {signal}
            [[signals]]
            rule = "text.courtesy"
            severity = "nuisance"
            phrases = ["late"]
            "#
        ))
        .expect("rules parse")
    }

    /// A rule file compiled as a test version (its problems if it is refused).
    fn compiled(file: RuleSetFile) -> Result<RuleSet, Vec<String>> {
        RuleSet::compile("severity-rules/test".into(), file)
    }

    /// The grade `rules` give a note that holds only `description`.
    fn severity_of(rules: &RuleSet, description: &str) -> Severity {
        classify(&FailureFacts { description, ..facts() }, rules).severity
    }

    #[test]
    fn an_alarm_chirping_for_its_changed_battery_is_explained_and_nothing_else_is() {
        let file = one_signal_file(
            "",
            r#"clause_breaks = ["but", "and"]
            after = []"#,
            r#"rule = "text.carbon-monoxide"
            severity = "safety_critical"
            hazard = "carbon_monoxide"
            together = ["alarm + chirping|beeping|went off", "headache|dizzy", "loss of neutral"]
            [[signals]]
            rule = "text.fire"
            severity = "safety_critical"
            hazard = "fire"
            together = ["socket|battery|alarm + smoke|smoking|hissing", "wall + smoke"]
            [[explained]]
            what = ["smoke alarm", "alarm"]
            reads = ["chirping", "beeping", "battery", "end of life"]
            by = "battery + changed|new one + quiet"
            unless = ["went off", "battery out"]"#,
        );
        let rules = compiled(file.clone()).expect("rules are valid");
        let explained = classify(
            &FailureFacts {
                description: "the smoke alarm was chirping, low battery, changed it, quiet now, he was late",
                ..facts()
            },
            &rules,
        );
        assert_eq!((explained.severity, explained.triage), (Severity::Nuisance, None), "{explained:?}");
        let reason = explained.reasons.iter().find(|r| r.rule == "text.explained").expect("the reason says why");
        assert!(
            reason.evidence.contains("`alarm + chirping|beeping|went off`")
                && reason.evidence.contains("(text.carbon-monoxide)")
                && reason.evidence.contains("`battery + changed|new one + quiet`"),
            "{reason:?}"
        );
        assert!(explained.hazards.is_empty());
        // The quiet may come three clauses after the chirp.
        let innocent = "the alarm was beeping. he found a low battery. changed it. quiet since. late";
        assert_eq!(severity_of(&rules, innocent), Severity::Nuisance, "{innocent}");
        // A report that only explains a hazard away says nothing of what went wrong: a person grades it.
        let only = classify(
            &FailureFacts {
                description: "the smoke alarm was chirping, low battery, changed it, quiet now",
                ..facts()
            },
            &rules,
        );
        assert_eq!(only.triage, Some(Triage::ConflictingSignals), "{only:?}");
        assert!(only.reasons[0].evidence.contains("explains away"), "{only:?}");
        for hazard in [
            // Never from before the chirp: the battery may be another device's.
            "changed the battery, the alarm was chirping, quiet now",
            // A finding that read anything besides the alarm and its chirp: a symptom, smoke, a wall,
            // or a word the alarm's name holds too ("smoke" of the smoke alarm, and "smoking").
            "the smoke alarm battery was smoking, changed it, quiet now",
            "the alarm was chirping with everyone dizzy, battery changed, quiet now",
            "the alarm was smoking, battery changed, quiet now",
            "the battery in the alarm was smoking, changed it, quiet now",
            "smoke alarm chirping by the wall, smoke in the room, battery changed, quiet now",
            // A finding in a clause that names no alarm.
            "alarm chirping, battery changed, quiet now, the home battery is hissing",
            // A phrase is read whole: the "of" of "end of life" is no part of "loss of neutral".
            "alarm chirping end of life loss of neutral, battery changed, quiet now",
            // Void: the alarm went off, or the battery was taken out.
            "the alarm was chirping then went off, changed the battery, quiet now",
            "the alarm was chirping, we took the battery out, quiet now",
            // A group missing or denied: no remedy.
            "the alarm was chirping, its the battery, quiet now",
            "the alarm was chirping, battery low, no new one, quiet now",
            // Too far: the cause and quiet told long after the chirp, about something else.
            "alarm chirping. then the boiler. then the meter. then the hall. battery changed. quiet now",
        ] {
            assert_eq!(severity_of(&rules, hazard), Severity::SafetyCritical, "{hazard}");
        }
        let bad = |explained: ExplainedFile| compiled(RuleSetFile { explained: vec![explained], ..file.clone() });
        let one_group = ExplainedFile {
            what: vec!["alarm".into()],
            reads: vec!["chirping".into()],
            by: "battery".into(),
            unless: vec![],
        };
        let refused = bad(one_group.clone()).err().expect("a cause alone is refused");
        assert!(refused.iter().any(|p| p.contains("explained #1") && p.contains("two")), "{refused:?}");
        let refused = bad(ExplainedFile {
            what: vec!["alarm + smoke".into()],
            by: "@nowhere + quiet".into(),
            ..one_group.clone()
        })
        .err()
        .expect("a grouped phrase and an unknown list are refused");
        assert!(
            refused.iter().any(|p| p.contains("`+` or `|`")) && refused.iter().any(|p| p.contains("@nowhere")),
            "{refused:?}"
        );
        let refused = bad(ExplainedFile { by: "battery + quiet but fine".into(), ..one_group })
            .err()
            .expect("a phrase holding a clause break could never match");
        assert!(refused.iter().any(|p| p.contains("clause-breaking")), "{refused:?}");
        // "alarming" stems to "alarm": it would void the explanation in every note naming one.
        let voiding = ExplainedFile {
            what: vec!["smoke alarm".into()],
            reads: vec!["chirping".into()],
            by: "battery + quiet".into(),
            unless: vec!["alarming".into()],
        };
        let refused = bad(voiding).err().expect("an unless phrase that reads as the alarm is refused");
        assert!(refused.iter().any(|p| p.contains("`alarming`") && p.contains("`what`")), "{refused:?}");
    }

    #[test]
    fn a_harmless_use_of_a_hazard_word_is_not_read_and_the_rest_of_its_clause_is() {
        let file = one_signal_file(
            r#"harmless = ["burning question", "shocking price|shocking bill"]"#,
            r#"clause_breaks = ["but"]
            after = []"#,
            r#"rule = "text.electrical"
            severity = "safety_critical"
            hazard = "electrical"
            together = ["socket|charger + shocking|shock|burning|hot"]"#,
        );
        let rules = compiled(file.clone()).expect("rules are valid");
        let grade = |description| severity_of(&rules, description);
        let grouped = RuleSetFile { harmless: vec!["shocking + price".into()], ..file };
        let refused = compiled(grouped).err().expect("a group is refused");
        assert!(refused.iter().any(|p| p.contains("harmless `shocking + price`")), "{refused:?}");
        for harmless in
            ["burning question about the charger, engineer late", "shocking price for a socket, he was late"]
        {
            assert_eq!(grade(harmless), Severity::Nuisance, "{harmless}");
        }
        for hazard in [
            "socket burning, shocking price",
            "tenant got a shock off the socket engineer quoted a shocking price for a new one",
            "burning question: is the charger meant to be this hot",
            "the socket gave her a shock, shock at the price too",
        ] {
            assert_eq!(grade(hazard), Severity::SafetyCritical, "{hazard}");
        }
    }

    #[test]
    fn after_phrases_and_harmless_uses_holding_a_clause_break_match_only_where_the_version_joins_them() {
        let file = one_signal_file(
            r#"harmless = ["sparks and co"]"#,
            r#"clause_breaks = ["and"]
            after = ["fitted and tested"]"#,
            r#"rule = "text.carbon-monoxide"
            severity = "safety_critical"
            hazard = "carbon_monoxide"
            phrases = ["co alarm", "sparks"]"#,
        );
        let joined = RuleSetFile {
            negation: NegationFile { join_after_and_harmless: true, ..file.negation.clone() },
            ..file.clone()
        };
        let before = compiled(file).expect("rules are valid");
        let from_9 = compiled(joined).expect("rules are valid");
        let grade = severity_of;
        for note in ["co alarm fitted and tested, engineer late", "sparks and co were late"] {
            assert_eq!(grade(&before, note), Severity::SafetyCritical, "a version without joins: {note}");
            assert_eq!(grade(&from_9, note), Severity::Nuisance, "a version that joins them: {note}");
        }
        for hazard in
            ["co alarm going off and fitted and tested yesterday", "sparks from the socket and co alarm fitted"]
        {
            assert_eq!(grade(&from_9, hazard), Severity::SafetyCritical, "{hazard}");
        }
    }

    #[test]
    fn a_negator_another_part_of_a_note_wide_pattern_matched_denies_its_subject_only_before_version_14() {
        let file = one_signal_file(
            "",
            r#"clause_breaks = ["and"]
            after = []"#,
            r#"rule = "text.vulnerable-without-essential-service"
            severity = "safety_critical"
            anywhere = ["pull cord + no + getting through"]"#,
        );
        let from_14 = RuleSetFile {
            negation: NegationFile { own_words_never_deny: true, ..file.negation.clone() },
            ..file.clone()
        };
        let (before, from_14) = (compiled(file).expect("rules are valid"), compiled(from_14).expect("rules are valid"));
        let note = "no pull cord alarm in the flats is getting through, engineer late";
        assert_eq!(severity_of(&before, note), Severity::Nuisance, "before 14 the word denies the pull cords");
        assert_eq!(severity_of(&from_14, note), Severity::SafetyCritical, "from 14 it is part of the finding");
    }

    #[test]
    fn a_word_break_reads_a_temperature_only_in_a_version_that_names_it() {
        let file = one_signal_file(
            "",
            r#"clause_breaks = ["but"]
            after = []"#,
            r#"rule = "text.scald"
            severity = "safety_critical"
            hazard = "scald"
            together = ["tap|bath + 60 c|140 f"]"#,
        );
        let grade = severity_of;
        let with_breaks = |word_breaks: Vec<char>| compiled(RuleSetFile { word_breaks, ..file.clone() });
        let before = with_breaks(Vec::new()).expect("rules are valid");
        let from_11 = with_breaks(vec!['º']).expect("rules are valid");
        for note in ["hot tap at 140ºF, engineer late", "Bath filled at 60ºC and he was late"] {
            assert_eq!(grade(&before, note), Severity::Nuisance, "a version without the break: {note}");
            assert_eq!(grade(&from_11, note), Severity::SafetyCritical, "a version with it: {note}");
        }
        assert_eq!(
            grade(&from_11, "hot tap at 140°F, engineer late"),
            Severity::SafetyCritical,
            "a degree sign as ever"
        );
        // An ASCII letter, a character that already breaks words, an upper-case letter (notes are
        // read lowercased), a letter that lowercases to ASCII (the Kelvin sign) and a digit.
        for bad in ['e', '-', 'Ø', '\u{212A}', '²'] {
            let refused = with_breaks(vec![bad]).err().expect("refused");
            assert!(refused.iter().any(|p| p.starts_with(&format!("word_breaks {bad:?}"))), "{refused:?}");
        }
        let lower = with_breaks(vec!['ø']).expect("a lowercase letter outside ASCII is a word break");
        assert_eq!(grade(&lower, "Bath at 60ØC, he was late"), Severity::SafetyCritical, "notes are lowercased first");
    }

    /// A net without weights that scores every note `probability`, with the given vote and doubt.
    fn net_scoring(probability: f64, threshold: f64, doubt: f64) -> crate::domain::net::Net {
        use crate::domain::net::{Net, NetFile, Provenance};
        let trained_on = Provenance {
            notes: "inline".to_owned(),
            count: 0,
            safety: 0,
            cross_validated_recall: 0.0,
            cross_validated_false_alarms: 0.0,
            cross_validated_doubted: None,
        };
        let bias = (probability / (1.0 - probability)).ln();
        Net::load(NetFile { trained_on, threshold, doubt: Some(doubt), bias, weights: [].into() }).expect("loads")
    }

    #[test]
    fn a_doubtful_sign_alone_goes_to_a_person_unless_the_net_or_a_plain_danger_backs_it() {
        let signals = |doubtful: bool| {
            one_signal_file(
                "",
                r#"clause_breaks = ["but"]
                after = []"#,
                &format!(
                    r#"rule = "text.unexplained-smell"
                    severity = "safety_critical"
                    doubtful = {doubtful}
                    phrases = ["smell"]
                    [[signals]]
                    rule = "text.gas"
                    severity = "safety_critical"
                    phrases = ["gas leak"]"#
                ),
            )
        };
        let graded = |rules: &RuleSet, note: &str| {
            let c = classify(&FailureFacts { description: note, ..facts() }, rules);
            (c.severity, c.triage)
        };
        let before = compiled(signals(false)).expect("rules are valid");
        let mut from_14 = compiled(signals(true)).expect("rules are valid");
        let smell = "funny smell in the hall, engineer late";
        assert_eq!(graded(&before, smell), (Severity::SafetyCritical, None), "a signal not marked doubtful grades");
        assert_eq!(
            graded(&from_14, smell),
            (Severity::SafetyCritical, Some(Triage::Unconfirmed)),
            "no net: a person checks"
        );
        assert_eq!(
            graded(&from_14, "a smell but a gas leak too"),
            (Severity::SafetyCritical, None),
            "a plain danger grades"
        );
        let unconfirmed = classify(&FailureFacts { description: smell, ..facts() }, &from_14);
        assert_eq!(unconfirmed.reasons[0].rule, "triage.unconfirmed");
        assert!(unconfirmed.reasons.iter().any(|r| r.rule == "text.unexplained-smell"), "what was read stays");

        // A net that votes backs the doubtful sign and one that doubts agrees there may be a danger:
        // either way the machine grades. A calm net leaves it to a person.
        from_14.net = Some(net_scoring(0.7, 0.6, 0.4));
        let backed = classify(&FailureFacts { description: smell, ..facts() }, &from_14);
        assert_eq!((backed.severity, backed.triage), (Severity::SafetyCritical, None));
        assert!(backed.reasons.iter().any(|r| r.rule == "net.safety-vote"), "{backed:?}");
        from_14.net = Some(net_scoring(0.5, 0.6, 0.4));
        assert_eq!(graded(&from_14, smell), (Severity::SafetyCritical, None), "a doubting net agrees");
        from_14.net = Some(net_scoring(0.5, 0.8, 0.7));
        assert_eq!(graded(&from_14, smell), (Severity::SafetyCritical, Some(Triage::Unconfirmed)), "a calm net");
    }

    #[test]
    fn a_note_the_net_doubts_goes_to_triage_unless_the_rules_found_a_danger() {
        let mut rules = rules();
        // Between its doubt (0.4) and its vote (0.6).
        rules.net = Some(net_scoring(0.5, 0.6, 0.4));
        let doubted = classify(&FailureFacts { description: "no heating", ..facts() }, &rules);
        assert_eq!((doubted.severity, doubted.triage), (Severity::SafetyCritical, Some(Triage::NetDoubt)));
        assert!(doubted.reasons.iter().any(|r| r.rule == "triage.net-doubt" && r.evidence.contains("0.50")));
        assert!(doubted.reasons.iter().any(|r| r.rule == "text.no-heating"), "the rules' reasons stay");
        let danger = classify(&FailureFacts { description: "smell of gas", ..facts() }, &rules);
        assert_eq!((danger.severity, danger.triage), (Severity::SafetyCritical, None), "the net is not asked");
        let unread = classify(&FailureFacts { description: "see attached", ..facts() }, &rules);
        assert_eq!(unread.triage, Some(Triage::NoSignal), "no signal says more than a doubt");

        let item = Reason {
            rule: "item.service-impacting".to_owned(),
            evidence: "item `x` failed".to_owned(),
            points_to: Severity::ServiceImpacting,
        };
        let again =
            reclassify(&FailureFacts { description: "no heating", ..facts() }, std::slice::from_ref(&item), &rules);
        assert_eq!(again.triage, Some(Triage::NetDoubt), "a kept ordinary reason does not settle a doubt");
        let unread =
            reclassify(&FailureFacts { description: "see attached", ..facts() }, std::slice::from_ref(&item), &rules);
        assert_eq!(unread.triage, Some(Triage::NetDoubt), "as `classify` grades it with the item: {unread:?}");
        let hazard = Reason { rule: "item.safety-critical".to_owned(), points_to: Severity::SafetyCritical, ..item };
        let settled = reclassify(&FailureFacts { description: "no heating", ..facts() }, &[hazard], &rules);
        assert_eq!((settled.severity, settled.triage), (Severity::SafetyCritical, None));
    }

    #[test]
    fn reclassifying_keeps_item_and_repeat_reasons() {
        let kept = [kept_reason("item.service-impacting", Severity::ServiceImpacting)];
        let verdict = reclassify(&FailureFacts { description: "see attached", ..facts() }, &kept, &rules());
        assert_eq!((verdict.severity, verdict.triage), (Severity::ServiceImpacting, None));
        let verdict = reclassify(&FailureFacts { description: "smell of gas", ..facts() }, &kept, &rules());
        assert_eq!(verdict.severity, Severity::SafetyCritical);
    }

    #[test]
    fn repeats_follow_the_reasons_of_their_grade_and_leave_triage_and_hazards_alone() {
        let repeats = [
            Repeat::SameCustomer { incident_id: "i1".into(), days_ago: 3 },
            Repeat::SameTechnicianItem { item_id: "an-item".into(), incident_id: "i2".into() },
        ];
        let rules_of = |v: &Classification| v.reasons.iter().map(|r| r.rule.clone()).collect::<Vec<_>>();
        // Graded at once, or first without repeats and then with them (as the service does around its
        // write transaction): the same verdict, repeats after the other service-impacting reasons.
        let items = [item(Severity::ServiceImpacting, vec![])];
        let described = FailureFacts {
            description: "smell of gas in the hall. no heating. engineer late",
            failed_items: &items,
            ..facts()
        };
        let at_once = classify(&FailureFacts { repeats: &repeats, ..described }, &rules());
        assert_eq!(classify(&described, &rules()).with_repeats(&repeats), at_once);
        // The same through the grading made ahead, which carries its facts.
        let ahead = GradedFacts::new(described, &rules());
        assert_eq!(ahead.facts().description, described.description);
        assert_eq!(ahead.with_repeats(&repeats), at_once);
        assert_eq!(
            rules_of(&at_once),
            [
                "text.gas",
                "item.service-impacting",
                "text.no-heating",
                "repeat.same-customer",
                "repeat.same-technician-item",
                "text.courtesy"
            ]
        );
        assert_eq!(
            (at_once.severity, at_once.repeat, at_once.hazards.clone()),
            (Severity::SafetyCritical, true, vec![Hazard::Gas])
        );

        // A report nobody can read stays in triage, possibly safety-critical; its repeats are noted.
        let unread =
            classify(&FailureFacts { description: "customer rang again", repeats: &repeats, ..facts() }, &rules());
        assert_eq!((unread.severity, unread.triage), (Severity::SafetyCritical, Some(Triage::NoSignal)));
        assert_eq!(rules_of(&unread), [Triage::NoSignal.rule(), "repeat.same-customer", "repeat.same-technician-item"]);

        // Kept repeat reasons (a re-grade) and new repeats are both weighed.
        let kept = [kept_reason("repeat.same-customer", Severity::ServiceImpacting)];
        let regraded = reclassify(&FailureFacts { description: "engineer late", ..facts() }, &kept, &rules());
        assert_eq!((regraded.severity, regraded.repeat), (Severity::ServiceImpacting, true));
        assert_eq!(rules_of(&regraded), ["repeat.same-customer", "text.courtesy"]);
        let both =
            reclassify(&FailureFacts { description: "engineer late", repeats: &repeats, ..facts() }, &kept, &rules());
        assert_eq!(
            rules_of(&both),
            ["repeat.same-customer", "repeat.same-customer", "repeat.same-technician-item", "text.courtesy"]
        );
    }

    #[test]
    fn repeats_escalate_a_nuisance_but_never_invent_a_hazard() {
        let repeats = [Repeat::SameCustomer { incident_id: "i1".into(), days_ago: 3 }];
        let verdict = classify(&FailureFacts { description: "no heating", repeats: &repeats, ..facts() }, &rules());
        assert_eq!(verdict.severity, Severity::ServiceImpacting);
        assert!(verdict.repeat);
        assert!(verdict.hazards.is_empty());
    }
}
