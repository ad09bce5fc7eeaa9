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
    /// One custom storage volume (`POOL/VOLUME`).
    StorageVolume,
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
            Kind::StorageVolume => "storage-volume",
            Kind::Network => "network",
            Kind::Project => "project",
            Kind::Certificate => "certificate",
            Kind::Operation => "operation",
            Kind::Server => "server",
        }
    }
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a finding is about: a kind and a name, written `KIND/NAME` (`cluster-member/m2`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subject {
    /// What kind of thing.
    pub kind: Kind,
    /// Its name.
    pub name: String,
}

impl std::fmt::Display for Subject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.kind, self.name)
    }
}

impl Serialize for Subject {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl PartialOrd for Subject {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Subject {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.to_string().cmp(&other.to_string())
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

/// A page (and section) of the Incus documentation that a check's advice comes from, named in
/// code: a finding links it whether or not there is an index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DocRef {
    /// The page's path under the docs' `doc/` folder (`howto/cluster_manage.md`).
    pub path: &'static str,
    /// The section's anchor (`cluster-evacuate`); empty for the whole page.
    pub anchor: &'static str,
    /// The section's heading.
    pub title: &'static str,
}

impl DocRef {
    /// Its canonical URL on the docs site whose root is `base`
    /// (`https://linuxcontainers.org/incus/docs/main/`).
    pub fn url(&self, base: &str) -> String {
        let page = self.path.trim_end_matches(".md");
        let page = if page == "index" {
            String::new()
        } else {
            format!("{page}/")
        };
        let anchor = if self.anchor.is_empty() {
            String::new()
        } else {
            format!("#{}", self.anchor)
        };
        format!("{}/{page}{anchor}", base.trim_end_matches('/'))
    }
}

/// One problem found.
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    /// The check's name.
    pub id: &'static str,
    /// How bad.
    pub severity: Severity,
    /// `KIND/NAME`.
    pub subject: Subject,
    /// The cluster members it concerns (for `--member`): the member itself, or where the
    /// instance, pool or network is.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub members: Vec<String>,
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
    /// What to search the docs for (related sections, when there is an index).
    #[serde(skip)]
    pub docs_query: String,
    /// The doc page its advice comes from.
    #[serde(skip)]
    pub doc: Option<DocRef>,
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
            subject: Subject {
                kind,
                name: name.to_string(),
            },
            members: match kind {
                Kind::ClusterMember | Kind::Server => vec![name.to_string()],
                _ => Vec::new(),
            },
            project: None,
            title: title.into(),
            evidence: Vec::new(),
            explanation: String::new(),
            docs: Vec::new(),
            fix: Vec::new(),
            docs_query: String::new(),
            doc: None,
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

    /// Adds a cluster member the finding concerns (none when `member` is empty).
    pub fn on_member(mut self, member: &str) -> Self {
        if !member.is_empty() && !self.members.iter().any(|m| m == member) {
            self.members.push(member.to_string());
        }
        self
    }

    /// Whether the finding concerns `member`: it is about the member or something on it, or
    /// about the cluster as a whole.
    pub fn concerns_member(&self, member: &str) -> bool {
        self.subject.kind == Kind::Cluster || self.members.iter().any(|m| m == member)
    }

    /// Sets the project.
    pub fn in_project(mut self, project: &str) -> Self {
        self.project = Some(project.to_string());
        self
    }

    /// The finding for people: a headline, then one labelled line per fact (the one renderer
    /// `doctor`, `ask` and the installation snapshot share).
    pub fn render_text(&self) -> String {
        let mut s = format!(
            "{:<8} {}  [{}] {}\n",
            self.severity.as_str().to_uppercase(),
            self.title,
            self.id,
            self.subject
        );
        let mut line = |label: &str, text: &str| {
            s.push_str(&format!("         {label}: {text}\n"));
        };
        if let Some(p) = &self.project {
            line("project", p);
        }
        for e in &self.evidence {
            line(
                "evidence",
                &format!("{} {} = {}", e.endpoint, e.field, e.value),
            );
        }
        if !self.explanation.is_empty() {
            line("why", &self.explanation);
        }
        for d in &self.docs {
            line("docs", &format!("{} <{}>", d.title, d.url));
        }
        for c in &self.fix {
            line("fix", c);
        }
        s
    }

    /// The doc page (`path` under `doc/`), section `anchor` (or "") and its heading, that
    /// the advice comes from.
    pub fn docs_at(
        mut self,
        path: &'static str,
        anchor: &'static str,
        title: &'static str,
    ) -> Self {
        self.doc = Some(DocRef {
            path,
            anchor,
            title,
        });
        self
    }

    /// What to search the docs for, for related sections.
    pub fn docs_about(mut self, query: &str) -> Self {
        self.docs_query = query.to_string();
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doc_pages_resolve_against_the_docs_in_use() {
        let d = DocRef {
            path: "howto/cluster_manage.md",
            anchor: "cluster-evacuate",
            title: "Evacuate",
        };
        assert_eq!(
            d.url("https://linuxcontainers.org/incus/docs/stable-6.0/"),
            "https://linuxcontainers.org/incus/docs/stable-6.0/howto/cluster_manage/#cluster-evacuate"
        );
        let top = DocRef {
            path: "index.md",
            anchor: "",
            title: "Incus",
        };
        assert_eq!(top.url("https://h/docs/main"), "https://h/docs/main/");
    }
}
