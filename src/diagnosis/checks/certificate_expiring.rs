//! `certificate-expiring`: the server (cluster) certificate and trusted certificates that have
//! expired or expire within the threshold (30 days).

use super::support::{certificate_expiry, human_duration};
use super::{Check, Context, Evidence, Finding, Kind, Severity};

pub const CHECK: Check = Check {
    id: "certificate-expiring",
    run,
    warnings: &[],
};

fn run(ctx: &Context) -> Vec<Finding> {
    let st = ctx.state;
    let horizon = ctx.settings.certificate_days * 86400;
    let mut certs: Vec<(String, &str, String, &str)> = Vec::new(); // (name, kind, pem, endpoint)
    if let Some(s) = &st.server
        && !s.environment.certificate.is_empty()
    {
        let kind = if st.clustered() { "cluster" } else { "server" };
        certs.push((
            s.environment.server_name.clone(),
            kind,
            s.environment.certificate.clone(),
            "GET /1.0",
        ));
    }
    for c in &st.certificates {
        certs.push((
            c.name.clone(),
            c.kind.as_str(),
            c.certificate.clone(),
            "GET /1.0/certificates",
        ));
    }
    let mut out = Vec::new();
    for (name, kind, pem, endpoint) in certs {
        let Some((not_after, cn)) = certificate_expiry(&pem) else {
            continue;
        };
        let left = not_after - ctx.now;
        if left > horizon {
            continue;
        }
        let expired = left <= 0;
        let label = match kind {
            "cluster" => "cluster certificate".to_string(),
            "server" => format!("server certificate of {name}"),
            "client" => format!("trusted client certificate {name}"),
            other => format!("trusted {other} certificate {name}"),
        };
        let severity = match (expired, kind) {
            (true, "cluster" | "server") => Severity::Critical,
            (true, _) | (false, "cluster" | "server") => Severity::High,
            _ => Severity::Moderate,
        };
        let title = if expired {
            format!("The {label} expired {} ago", human_duration(left))
        } else {
            format!("The {label} expires in {}", human_duration(left))
        };
        let mut f = Finding::new(CHECK.id, severity, Kind::Certificate, &name, title)
            .evidence(Evidence::new(
                endpoint,
                if endpoint == "GET /1.0" {
                    "environment.certificate".to_string()
                } else {
                    format!("{name}.certificate")
                },
                format!("CN={cn}, not after {}", crate::util::time::date(not_after)),
            ))
            .docs_about(if kind == "client" || kind == "metrics" {
                "authentication trusted certificates add certificate"
            } else {
                "update the cluster certificate"
            });
        f = if kind == "client" || kind == "metrics" {
            f.docs_at(
                "authentication.md",
                "authentication-trusted-clients",
                "Trusted TLS clients",
            )
        } else {
            f.docs_at(
                "howto/cluster_manage.md",
                "update-the-cluster-certificate",
                "Update the cluster certificate",
            )
        };
        f = match kind {
            "cluster" | "server" => f
                .explain("Clients and members verify this certificate; once it has expired, `incus` refuses to connect and members cannot talk to each other. Replace it before it expires (ACME renews automatically when configured).")
                .fix("incus cluster update-certificate <cert.crt> <cert.key>   # cluster: replaces it on every member")
                .fix("incus config set acme.domain=<name> acme.email=<address>   # or let ACME renew it"),
            _ => f
                .explain(format!(
                    "Incus treats an expired client certificate as untrusted: whoever uses {name} gets \"not authorized\". Issue a new certificate and trust it, then remove the old entry."
                ))
                .fix("incus config trust list   # the EXPIRY DATE column")
                .fix("incus config trust add-certificate <new.crt> --name <name>")
                .fix(format!("incus config trust remove <fingerprint of {name}>   # after the new one works")),
        };
        out.push(f);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnosis::checks::testkit::{StateBuilder as B, table};

    use crate::diagnosis::checks::testkit::NOW;

    /// A self-signed certificate valid until `days` from [`NOW`].
    fn pem(days: i64) -> String {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(vec!["t".into()]).unwrap();
        params.not_before = time::OffsetDateTime::from_unix_timestamp(NOW - 86400 * 400).unwrap();
        params.not_after =
            time::OffsetDateTime::from_unix_timestamp(NOW + 86400 * days + 3600).unwrap();
        params.self_signed(&key).unwrap().pem()
    }

    #[test]
    fn expired_and_expiring_within_30_days() {
        table(
            &CHECK,
            vec![
                (
                    "valid for a year",
                    B::cluster(3)
                        .certificate("ops", "client", &pem(365))
                        .build(),
                    vec![],
                ),
                (
                    "31 days left",
                    B::cluster(3).certificate("ops", "client", &pem(31)).build(),
                    vec![],
                ),
                (
                    "29 days left",
                    B::cluster(3).certificate("ops", "client", &pem(29)).build(),
                    vec![("moderate", "certificate/ops")],
                ),
                (
                    "expired",
                    B::cluster(3).certificate("ops", "client", &pem(-3)).build(),
                    vec![("high", "certificate/ops")],
                ),
                (
                    "not a certificate",
                    B::cluster(3)
                        .certificate("ops", "client", "garbage")
                        .build(),
                    vec![],
                ),
            ],
        );
    }
}
