//! `bridge-config`: bridge networks configured in ways dnsmasq or netfilter cannot honour.

use super::support::{warning_evidence, warning_subject, warnings_of};
use super::{Check, Context, Finding, Kind, Severity};

const RAW_DNSMASQ: &str = "Skipping AppArmor for dnsmasq due to raw.dnsmasq being set";
const IPV6_PREFIX: &str =
    "IPv6 networks with a prefix larger than 64 aren't properly supported by dnsmasq";
const NETFILTER: &str = "Proxy bridge netfilter not enabled";

pub const CHECK: Check = Check {
    id: "bridge-config",
    run,
    warnings: &[RAW_DNSMASQ, IPV6_PREFIX, NETFILTER],
};

fn run(ctx: &Context) -> Vec<Finding> {
    let st = ctx.state;
    let mut out = Vec::new();
    for w in warnings_of(st, RAW_DNSMASQ)
        .chain(warnings_of(st, IPV6_PREFIX))
        .chain(warnings_of(st, NETFILTER))
    {
        let (kind, name, _) = warning_subject(w);
        let (kind, name) = if kind == Kind::Server {
            (Kind::Network, w.location.clone())
        } else {
            (kind, name)
        };
        let (explanation, fix) = match w.kind.as_str() {
            RAW_DNSMASQ => (
                "raw.dnsmasq is set on this bridge, so Incus runs its dnsmasq without the AppArmor profile.",
                format!(
                    "incus network unset {name} raw.dnsmasq   # if the extra dnsmasq options are not needed"
                ),
            ),
            IPV6_PREFIX => (
                "dnsmasq only hands out stateless addresses in a /64; with a longer prefix instances may get no IPv6 address.",
                format!("incus network set {name} ipv6.address=<prefix>::1/64"),
            ),
            _ => (
                "br_netfilter is not loaded: instances on the bridge cannot reach proxy devices or network forwards that listen on the bridge's own addresses (hairpin).",
                format!(
                    "ssh {} 'modprobe br_netfilter && echo br_netfilter > /etc/modules-load.d/br_netfilter.conf'",
                    w.location
                ),
            ),
        };
        out.push(
            Finding::new(
                CHECK.id,
                Severity::Low,
                kind,
                &name,
                format!("{}: {}", w.kind, w.last_message),
            )
            .on_member(&w.location)
            .evidence(warning_evidence(w))
            .explain(explanation)
            .docs_at("reference/network_bridge.md", "", "Bridge network")
            .docs_about("bridge network configuration dnsmasq")
            .fix(fix),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnosis::checks::testkit::{StateBuilder as B, table};

    #[test]
    fn bridge_warnings() {
        table(
            &CHECK,
            vec![
                (
                    "healthy",
                    B::cluster(3).network("br0", "bridge", "Created").build(),
                    vec![],
                ),
                (
                    "br_netfilter missing",
                    B::cluster(3)
                        .warning(NETFILTER, "m1", "/1.0/networks/br0", "x")
                        .build(),
                    vec![("low", "network/br0")],
                ),
                (
                    "raw.dnsmasq",
                    B::cluster(3)
                        .warning(RAW_DNSMASQ, "m1", "/1.0/networks/br0", "x")
                        .build(),
                    vec![("low", "network/br0")],
                ),
                (
                    "resolved",
                    B::cluster(3)
                        .warning(NETFILTER, "m1", "/1.0/networks/br0", "x")
                        .resolve_warnings()
                        .build(),
                    vec![],
                ),
            ],
        );
    }
}
