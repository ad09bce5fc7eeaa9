//! `weak-client-key`: trusted client certificates with RSA keys under 4,096 bits
//! (authentication.md: "at least 4096 bits ... preferably ECDSA P-384").

use crate::diagnosis::checks::{Check, Context, Evidence, Finding, Kind, Severity};

pub const RULE: Check = Check {
    id: "weak-client-key",
    run,
    warnings: &[],
};

/// Bits of an RSA key in a PEM certificate; `None` for other keys or what does not parse.
fn rsa_bits(pem: &str) -> Option<usize> {
    let (_, parsed) = x509_parser::pem::parse_x509_pem(pem.as_bytes()).ok()?;
    let cert = parsed.parse_x509().ok()?;
    match cert.public_key().parsed().ok()? {
        x509_parser::public_key::PublicKey::RSA(rsa) => Some(rsa.key_size()),
        _ => None,
    }
}

fn run(ctx: &Context) -> Vec<Finding> {
    let mut out = Vec::new();
    for c in ctx.state.certificates.iter().filter(|c| c.kind == "client") {
        let Some(bits) = rsa_bits(&c.certificate).filter(|b| *b < 4096) else {
            continue;
        };
        let name = if c.name.is_empty() {
            c.fingerprint.chars().take(12).collect()
        } else {
            c.name.clone()
        };
        out.push(
            Finding::new(RULE.id, Severity::Moderate, Kind::Certificate, &name, format!("Client certificate {name} has a {bits}-bit RSA key"))
                .evidence(Evidence::new("GET /1.0/certificates?recursion=1", format!("{name}.certificate"), format!("RSA, {bits} bits")))
                .explain("A trusted client key is full access to the cluster for as long as the certificate is valid. RSA keys under 4096 bits are below what the Incus docs ask for; a new ECDSA P-384 key (what `incus remote add` creates today) is both stronger and smaller.")
                .docs_at("authentication.md", "communication-protocol", "Communication protocol").docs_about("client certificate key size ECDSA P-384 TLS authentication")
                .fix("incus remote generate-certificate   # on the client, then trust the new one")
                .fix(format!("incus config trust remove {}   # once the new certificate works", c.fingerprint.chars().take(12).collect::<String>())),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnosis::checks::testkit::{StateBuilder as B, table};

    const RSA2048: &str = include_str!("../../../tests/fixtures/certs/rsa2048.crt");
    const RSA4096: &str = include_str!("../../../tests/fixtures/certs/rsa4096.crt");

    #[test]
    fn short_rsa_client_keys() {
        table(
            &RULE,
            vec![
                (
                    "4096-bit",
                    B::cluster(3).certificate("new", "client", RSA4096).build(),
                    vec![],
                ),
                (
                    "2048-bit",
                    B::cluster(3)
                        .certificate("old-laptop", "client", RSA2048)
                        .build(),
                    vec![("moderate", "certificate/old-laptop")],
                ),
                (
                    "a 2048-bit member certificate is not a client",
                    B::cluster(3).certificate("m1", "server", RSA2048).build(),
                    vec![],
                ),
                (
                    "not a certificate",
                    B::cluster(3)
                        .certificate("junk", "client", "garbage")
                        .build(),
                    vec![],
                ),
            ],
        );
    }
}
