//! What a check reports.

use serde::Serialize;

/// How bad a finding is, most severe first when sorted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Hash)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Service is down or data is at risk now.
    Critical,
    /// Something is broken and needs action soon.
    High,
    /// Degraded or heading for trouble.
    Moderate,
    /// Worth knowing.
    Low,
}

impl Severity {
    /// The warning severity Incus uses (`low`, `moderate`, `high`).
    pub fn from_incus(s: &str) -> Severity {
        match s {
            "high" => Severity::High,
            "moderate" => Severity::Moderate,
            _ => Severity::Low,
        }
    }

    /// Lowercase name.
    pub fn as_str(&self) -> &'static str {
        match self {
            Severity::Critical => "critical",
            Severity::High => "high",
            Severity::Moderate => "moderate",
            Severity::Low => "low",
        }
    }
}

/// What a finding is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// The cluster as a whole.
    Cluster,
    /// One member.
    ClusterMember,
    /// One instance.
    Instance,
    /// One storage pool.
    StoragePool,
    /// One network.
    Network,
    /// One project.
    Project,
    /// One certificate.
    Certificate,
    /// One operation.
    Operation,
    /// The server (daemon, host).
    Server,
}

impl Kind {
    /// `cluster-member`, `storage-pool`, …
    pub fn as_str(&self) -> &'static str {
        match self {
            Kind::Cluster => "cluster",
            Kind::ClusterMember => "cluster-member",
            Kind::Instance => "instance",
            Kind::StoragePool => "storage-pool",
            Kind::Network => "network",
            Kind::Project => "project",
            Kind::Certificate => "certificate",
            Kind::Operation => "operation",
            Kind::Server => "server",
        }
    }
}

/// One fact read from the API that supports a finding.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Evidence {
    /// The endpoint it was read from (`GET /1.0/cluster/members`).
    pub endpoint: String,
    /// The field (`m2.status`).
    pub field: String,
    /// Its value.
    pub value: String,
}

impl Evidence {
    /// Evidence from `endpoint`.
    pub fn new(
        endpoint: impl Into<String>,
        field: impl Into<String>,
        value: impl Into<String>,
    ) -> Self {
        Evidence {
            endpoint: endpoint.into(),
            field: field.into(),
            value: value.into(),
        }
    }
}

/// A doc section that explains the finding.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DocLink {
    /// Breadcrumb of the section.
    pub title: String,
    /// Canonical URL with anchor.
    pub url: String,
}

/// One problem found.
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    /// The check's name.
    pub id: &'static str,
    /// How bad.
    pub severity: Severity,
    /// `KIND/NAME`.
    pub subject: String,
    /// Project, where it applies.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub project: Option<String>,
    /// One line.
    pub title: String,
    /// Facts read from the API.
    pub evidence: Vec<Evidence>,
    /// What it means and why it happens.
    pub explanation: String,
    /// Doc sections, found through the index.
    pub docs: Vec<DocLink>,
    /// Commands that fix it (proposed, never run).
    pub fix: Vec<String>,
    /// What to search the docs for.
    #[serde(skip)]
    pub docs_query: String,
}

impl Finding {
    /// A finding of check `id` about `kind`/`name`.
    pub fn new(
        id: &'static str,
        severity: Severity,
        kind: Kind,
        name: &str,
        title: impl Into<String>,
    ) -> Self {
        Finding {
            id,
            severity,
            subject: format!("{}/{}", kind.as_str(), name),
            project: None,
            title: title.into(),
            evidence: Vec::new(),
            explanation: String::new(),
            docs: Vec::new(),
            fix: Vec::new(),
            docs_query: String::new(),
        }
    }

    /// Adds evidence.
    pub fn evidence(mut self, e: Evidence) -> Self {
        self.evidence.push(e);
        self
    }

    /// Sets the explanation.
    pub fn explain(mut self, text: impl Into<String>) -> Self {
        self.explanation = text.into();
        self
    }

    /// Adds a fix command.
    pub fn fix(mut self, cmd: impl Into<String>) -> Self {
        self.fix.push(cmd.into());
        self
    }

    /// Sets the project.
    pub fn in_project(mut self, project: &str) -> Self {
        self.project = Some(project.to_string());
        self
    }

    /// What to search the docs for.
    pub fn docs_about(mut self, query: &str) -> Self {
        self.docs_query = query.to_string();
        self
    }
}
