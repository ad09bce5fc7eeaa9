//! Alerting rules for Incus's own `/1.0/metrics` (the docs ship a Grafana dashboard, no
//! rules): `incus-ai export prometheus-rules` writes them for Prometheus, next to what
//! `watch` alerts on. Each rule uses metrics listed in the docs' `provided_metrics.md`.

/// The rules file (Prometheus 2 YAML), valid for `promtool check rules`.
pub const PROMETHEUS_RULES: &str = r#"# Alerting rules for Incus's /1.0/metrics (written by `incus-ai export prometheus-rules`).
# Scrape each member's /1.0/metrics with a metrics certificate (doc: metrics.md), then
# load this file with `rule_files:` in prometheus.yml. `incus-ai watch` alerts on what the API
# says (members, quorum, warnings, operations); these rules cover what only the metrics show.
groups:
  - name: incus
    rules:
      - alert: IncusTargetDown
        expr: up{job=~".*incus.*"} == 0
        for: 2m
        labels:
          severity: high
          source: incus-ai
        annotations:
          summary: "Incus metrics endpoint {{ $labels.instance }} does not answer"
          description: "Prometheus cannot scrape {{ $labels.instance }}: the daemon is down or the metrics certificate is no longer trusted."
          fix: "incus cluster list; journalctl -u incus -n 50 (on that member)"
      - alert: IncusStoragePoolAlmostFull
        expr: incus_storage_pool_used_bytes / incus_storage_pool_size_bytes > 0.90 and incus_storage_pool_size_bytes > 0
        for: 10m
        labels:
          severity: high
          source: incus-ai
        annotations:
          summary: "Storage pool {{ $labels.pool }} is over 90% used on {{ $labels.instance }}"
          description: "A full pool stops instance creation, snapshots and writes inside instances."
          fix: "incus storage info {{ $labels.pool }}; incus storage set {{ $labels.pool }} size=<bigger> (doc: howto/storage_pools.md#resize-a-storage-pool)"
      - alert: IncusInstanceFilesystemAlmostFull
        expr: incus_filesystem_avail_bytes / incus_filesystem_size_bytes < 0.05 and incus_filesystem_size_bytes > 0
        for: 15m
        labels:
          severity: moderate
          source: incus-ai
        annotations:
          summary: "{{ $labels.type }} {{ $labels.name }} ({{ $labels.project }}) has less than 5% free on {{ $labels.device }}"
          description: "The instance's root or attached filesystem is nearly full."
          fix: "incus config device override {{ $labels.name }} root size=<bigger> --project {{ $labels.project }}"
      - alert: IncusInstanceOOMKills
        expr: increase(incus_memory_OOM_kills_total[15m]) > 0
        labels:
          severity: moderate
          source: incus-ai
        annotations:
          summary: "{{ $labels.type }} {{ $labels.name }} ({{ $labels.project }}) had processes killed for lack of memory"
          description: "The instance reached its limits.memory; the kernel killed processes inside it."
          fix: "incus config set {{ $labels.name }} limits.memory=<more> --project {{ $labels.project }}"
      - alert: IncusInstanceMemoryPressure
        expr: incus_memory_MemAvailable_bytes / incus_memory_MemTotal_bytes < 0.05 and incus_memory_MemTotal_bytes > 0
        for: 10m
        labels:
          severity: moderate
          source: incus-ai
        annotations:
          summary: "{{ $labels.type }} {{ $labels.name }} ({{ $labels.project }}) has less than 5% of its memory available"
          description: "Sustained memory pressure: the instance swaps or will have processes killed."
          fix: "incus info {{ $labels.name }} --project {{ $labels.project }}; incus config set {{ $labels.name }} limits.memory=<more>"
      - alert: IncusProjectNearLimit
        expr: incus_project_usage / incus_project_limit > 0.90 and incus_project_limit > 0
        for: 10m
        labels:
          severity: moderate
          source: incus-ai
        annotations:
          summary: "Project {{ $labels.project }} uses over 90% of its {{ $labels.resource }} limit"
          description: "New instances or growth in this project will soon be refused."
          fix: "incus project info {{ $labels.project }}; incus project set {{ $labels.project }} limits.<resource>=<more>"
      - alert: IncusWarnings
        expr: incus_warnings_total > 0
        for: 30m
        labels:
          severity: low
          source: incus-ai
        annotations:
          summary: "{{ $labels.instance }} has {{ $value }} unresolved Incus warnings"
          description: "Incus recorded problems it could not fix by itself."
          fix: "incus warning list; incus-ai doctor"
      - alert: IncusDaemonRestarted
        expr: incus_uptime_seconds < 300
        labels:
          severity: low
          source: incus-ai
        annotations:
          summary: "incusd on {{ $labels.instance }} started less than 5 minutes ago"
          description: "An unexpected restart of the daemon is worth a look at its log."
          fix: "journalctl -u incus --since -10m"
"#;
