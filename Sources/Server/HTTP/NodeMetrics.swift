import CoreMetrics
import Metrics
import MultiRaft
import NIOConcurrencyHelpers
import Prometheus
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The node's metrics: swift-metrics handles created against one Prometheus registry, which
/// `/metrics` renders. Handles are made with an explicit factory (not the global
/// `MetricsSystem`), so tests can make as many instances as they like; the server also
/// bootstraps the global system with the same factory once (``bootstrapGlobalSystem()``).
final class NodeMetrics: Sendable {
    /// The process's instance: the WAL hook, the router and client connections record here.
    static let shared = NodeMetrics()

    /// Command names that get their own `mystore_request_seconds` series; any other name is
    /// counted as `OTHER`, so clients cannot create series at will.
    static let knownCommands: Set<String> = Set(CommandTable.byName.keys)
    static let otherCommand = "OTHER"

    let registry: PrometheusCollectorRegistry
    let factory: PrometheusMetricsFactory
    let walFsyncs: CoreMetrics.Counter
    let walRecords: CoreMetrics.Counter
    let walFsyncSeconds: CoreMetrics.Timer
    /// Clients disconnected for not reading their replies (`client_output_buffer_limit`).
    let clientsClosedForOutput: CoreMetrics.Counter
    private let requestTimers: [String: CoreMetrics.Timer]
    private let otherRequests: CoreMetrics.Timer
    private let proposals = NIOLockedValueBox<[Int: CoreMetrics.Counter]>([:])
    private let shardGauges = NIOLockedValueBox<[Int: ShardGauges]>([:])
    /// The Raft host's activity as last exported; counters advance by the difference.
    private let exportedActivity = NIOLockedValueBox(HostActivity())
    private let rounds: CoreMetrics.Counter
    private let readies: CoreMetrics.Counter
    private let batchesSent: CoreMetrics.Counter
    private let messagesReceived: CoreMetrics.Counter
    private let snapshotsWritten: CoreMetrics.Counter
    private let snapshotBytesWritten: CoreMetrics.Counter
    private let messagesSent: [CoreMetrics.Counter]

    /// The four per-shard gauges, refreshed from the Raft host's status at scrape time.
    private struct ShardGauges {
        let isLeader: CoreMetrics.Gauge
        let term: CoreMetrics.Gauge
        let commitIndex: CoreMetrics.Gauge
        let appliedIndex: CoreMetrics.Gauge
    }

    init() {
        registry = PrometheusCollectorRegistry()
        var factory = PrometheusMetricsFactory(registry: registry)
        // fdatasync: tens of microseconds on NVMe to tens of milliseconds on spinning disks.
        factory.durationHistogramBuckets["mystore_wal_fsync_seconds"] = [
            .microseconds(50), .microseconds(100), .microseconds(250), .microseconds(500), .milliseconds(1),
            .milliseconds(2), .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50),
            .milliseconds(100), .milliseconds(250), .seconds(1),
        ]
        // Requests: from a local PING (microseconds) to the request timeout (seconds).
        factory.durationHistogramBuckets["mystore_request_seconds"] = [
            .microseconds(100), .microseconds(250), .microseconds(500), .milliseconds(1), .milliseconds(2),
            .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100),
            .milliseconds(250), .milliseconds(500), .seconds(1), .milliseconds(2500), .seconds(5), .seconds(10),
        ]
        self.factory = factory
        walFsyncs = CoreMetrics.Counter(label: "mystore_wal_fsyncs_total", factory: factory)
        clientsClosedForOutput = CoreMetrics.Counter(label: "mystore_clients_closed_output_limit_total", factory: factory)
        walRecords = CoreMetrics.Counter(label: "mystore_wal_records_total", factory: factory)
        walFsyncSeconds = CoreMetrics.Timer(label: "mystore_wal_fsync_seconds", factory: factory)
        var timers: [String: CoreMetrics.Timer] = [:]
        for name in Self.knownCommands {
            timers[name] = CoreMetrics.Timer(label: "mystore_request_seconds", dimensions: [("command", name)], factory: factory)
        }
        requestTimers = timers
        otherRequests = CoreMetrics.Timer(label: "mystore_request_seconds", dimensions: [("command", Self.otherCommand)], factory: factory)
        rounds = CoreMetrics.Counter(label: "mystore_raft_rounds_total", factory: factory)
        readies = CoreMetrics.Counter(label: "mystore_raft_readies_total", factory: factory)
        batchesSent = CoreMetrics.Counter(label: "mystore_raft_batches_sent_total", factory: factory)
        messagesReceived = CoreMetrics.Counter(label: "mystore_raft_messages_received_total", factory: factory)
        snapshotsWritten = CoreMetrics.Counter(label: "mystore_snapshots_written_total", factory: factory)
        snapshotBytesWritten = CoreMetrics.Counter(label: "mystore_snapshot_state_bytes_written_total", factory: factory)
        messagesSent = Message.Kind.allCases.map {
            CoreMetrics.Counter(label: "mystore_raft_messages_sent_total", dimensions: [("kind", "\($0)")], factory: factory)
        }
    }

    private static let bootstrapped = NIOLockedValueBox(false)

    /// Routes metrics of libraries that use the global swift-metrics system into this
    /// registry too. Safe to call more than once: only the first call bootstraps.
    func bootstrapGlobalSystem() {
        let first = Self.bootstrapped.withLockedValue { done in
            defer { done = true }
            return !done
        }
        if first { MetricsSystem.bootstrap(factory) }
    }

    // MARK: - Recording (any thread)

    /// The WAL made `records` durable with one fdatasync that took `seconds`.
    func walSynced(seconds: Double, records: Int) {
        walFsyncs.increment()
        walRecords.increment(by: records)
        walFsyncSeconds.recordNanoseconds(Int64(seconds * 1e9))
    }

    /// A write was proposed to `shard`'s Raft group on this node.
    func proposed(shard: Int) {
        let counter = proposals.withLockedValue { counters in
            if let c = counters[shard] { return c }
            let c = CoreMetrics.Counter(label: "mystore_proposals_total", dimensions: [("shard", String(shard))], factory: factory)
            counters[shard] = c
            return c
        }
        counter.increment()
    }

    /// The latency histogram of the command `name` (upper-cased); `OTHER` for unknown names.
    func requestTimer(_ name: String) -> CoreMetrics.Timer { requestTimers[name] ?? otherRequests }

    // MARK: - Scraping

    /// One shard replica's Raft state, as exported by the per-shard gauges.
    struct ShardSample: Sendable {
        var shard: Int
        var isLeader: Bool
        var term: UInt64
        var commitIndex: UInt64
        var appliedIndex: UInt64
    }

    /// The shard replicas in the Raft host's status (the meta group is left out).
    static func samples(_ statuses: [GroupStatus]) -> [ShardSample] {
        statuses.filter { $0.group != ClusterNode.metaGroup }.map {
            ShardSample(shard: Int($0.group) - 1, isLeader: $0.role == .leader, term: $0.term.rawValue,
                        commitIndex: $0.commitIndex.rawValue, appliedIndex: $0.appliedIndex.rawValue)
        }
    }

    /// The Prometheus text exposition, after refreshing the per-shard gauges from `shards` and
    /// advancing the Raft counters to `activity` (the host's, as it stands: counts only grow).
    func render(shards: [ShardSample], activity: HostActivity) -> [UInt8] {
        let last = exportedActivity.withLockedValue { old in defer { old = activity }; return old }
        func advance(_ c: CoreMetrics.Counter, _ new: UInt64, _ old: UInt64) { if new > old { c.increment(by: Int64(new - old)) } }
        advance(rounds, activity.rounds, last.rounds)
        advance(readies, activity.readies, last.readies)
        advance(batchesSent, activity.batchesSent, last.batchesSent)
        advance(messagesReceived, activity.messagesReceived, last.messagesReceived)
        advance(snapshotsWritten, activity.snapshotsWritten, last.snapshotsWritten)
        advance(snapshotBytesWritten, activity.snapshotBytesWritten, last.snapshotBytesWritten)
        for (k, c) in messagesSent.enumerated() { advance(c, activity.messagesSent[k], last.messagesSent[k]) }
        for s in shards {
            let gauges = gauges(shard: s.shard)
            gauges.isLeader.record(s.isLeader ? 1 : 0)
            gauges.term.record(s.term)
            gauges.commitIndex.record(s.commitIndex)
            gauges.appliedIndex.record(s.appliedIndex)
        }
        return registry.emitToBuffer()
    }

    private func gauges(shard: Int) -> ShardGauges {
        shardGauges.withLockedValue { all in
            if let g = all[shard] { return g }
            let labels = [("shard", String(shard))]
            let g = ShardGauges(
                isLeader: CoreMetrics.Gauge(label: "mystore_shard_is_leader", dimensions: labels, factory: factory),
                term: CoreMetrics.Gauge(label: "mystore_shard_term", dimensions: labels, factory: factory),
                commitIndex: CoreMetrics.Gauge(label: "mystore_shard_commit_index", dimensions: labels, factory: factory),
                appliedIndex: CoreMetrics.Gauge(label: "mystore_shard_applied_index", dimensions: labels, factory: factory)
            )
            all[shard] = g
            return g
        }
    }
}
