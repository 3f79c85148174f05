import Logging
import SystemClock

/// Identifies a node of the cluster to the host (the server maps it to an address).
public typealias NodeID = UInt64

/// A replicated state machine plugged into the host: the key-value store of a shard, or the
/// shard map of the meta group. Called only on the host's thread.
public protocol GroupStateMachine: AnyObject {
    /// Applies the payload of a committed entry; the result goes back to the proposer.
    func apply(index: LogIndex, data: [UInt8]) -> any Sendable
    /// Streams the whole state as bytes.
    func writeSnapshot(to sink: ([UInt8]) throws -> Void) throws
    /// Replaces the state by a stream that `writeSnapshot` produced.
    func restore(from source: () throws -> [UInt8]?) throws
    /// A writer of the current state that may run on another thread while this state machine
    /// keeps applying (a frozen, copy-on-write view); nil to snapshot on the host's thread.
    func concurrentSnapshotWriter() -> SnapshotBody?
    /// Whether `concurrentSnapshotWriter` returns a writer (asked without taking a view).
    var writesSnapshotsConcurrently: Bool { get }
}

/// Streams a frozen state into a sink; runs off the host's thread.
public typealias SnapshotBody = @Sendable (_ sink: ([UInt8]) throws -> Void) throws -> Void

extension GroupStateMachine {
    public func concurrentSnapshotWriter() -> SnapshotBody? { nil }
    public var writesSnapshotsConcurrently: Bool { false }
}

/// Replica ids name their node in the low 20 bits and an incarnation above them, so a node
/// that leaves a group and later rejoins it does so under a new id (Raft refuses to reuse a
/// removed id), and every node can tell where a replica lives without a lookup table.
/// Incarnation 0 is the bootstrap replica, whose id equals its node id.
public enum ReplicaIDs {
    public static let nodeBits = 20
    public static let maxNode: NodeID = (1 << nodeBits) - 1

    public static func make(node: NodeID, incarnation: UInt64) -> ReplicaID {
        precondition(node >= 1 && node <= maxNode, "node id \(node) out of range")
        return ReplicaID(rawValue: incarnation << UInt64(nodeBits) | node)
    }

    public static func node(of replica: ReplicaID) -> NodeID { replica.rawValue & maxNode }
}

/// Carries Raft messages between nodes. Best effort: lost messages are Raft's business.
public protocol RaftTransport: AnyObject, Sendable {
    /// Sends messages of any number of groups to one node, as one batch.
    func send(_ batch: [(group: GroupID, message: Message)], to node: NodeID)
    /// Sends a snapshot message whose state is the snapshot file at `file` (the message itself
    /// carries no data). `done` reports whether the receiver took the whole file.
    func sendSnapshot(group: GroupID, message: Message, file: String, to node: NodeID, done: @escaping @Sendable (Bool) -> Void)
}

extension RaftTransport {
    /// Without a streaming path the file travels inside the message (tests, small setups).
    public func sendSnapshot(group: GroupID, message: Message, file: String, to node: NodeID, done: @escaping @Sendable (Bool) -> Void) {
        guard var snap = message.snapshot, let f = try? DurableFile(path: file, mode: .readOnly), let bytes = try? f.readAll() else {
            return done(false)
        }
        var m = message
        snap.data = bytes
        m.snapshot = snap
        send([(group: group, message: m)], to: node)
        done(true)
    }
}

/// Why a proposal or read did not complete.
///
/// For a proposal the cases split in two. `notLeader`, `unknownGroup` and `dropped` come before
/// the entry was appended to the log: it was not executed and never will be. `timeout` and
/// `outcomeUnknown` come after: the entry is in this node's log and may have reached others,
/// so it may still commit; only the state machine (a session's deduplicated retry, or a read)
/// can tell. `isAfterAppend` says which.
public enum HostError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Not the leader; the leader's node if known.
    case notLeader(NodeID?)
    case unknownGroup(GroupID)
    case timeout
    case dropped(String)
    case storage(String)
    /// An appended proposal this node stopped waiting for: it lost leadership, or its replica
    /// was removed. The entry may still commit under another leader.
    case outcomeUnknown(String)

    /// Whether the failed proposal may have been appended to a Raft log (and so may still
    /// take effect).
    public var isAfterAppend: Bool {
        switch self {
        case .timeout, .outcomeUnknown, .storage: true
        case .notLeader, .unknownGroup, .dropped: false
        }
    }

    public var description: String {
        switch self {
        case .notLeader(let n): n.map { "not the leader (leader is node \($0))" } ?? "no leader elected yet"
        case .unknownGroup(let g): "group \(g) is not hosted on this node"
        case .timeout: "timed out waiting for the cluster"
        case .dropped(let why): "dropped: \(why)"
        case .storage(let why): "storage failure: \(why)"
        case .outcomeUnknown(let why): "outcome unknown: \(why)"
        }
    }
}

/// Every knob of the host, with its default.
public struct HostSettings: Sendable {
    /// Milliseconds per Raft tick.
    public var tickMillis = 100
    /// Raft settings applied to every replica (its id is set per group).
    public var raft = RaftSettings(id: 1)
    /// Take a snapshot and compact once this many entries were applied since the last one.
    public var snapshotEntries: UInt64 = 10_000
    /// ... or once this many bytes of entries were applied since the last one.
    public var snapshotLogBytes: UInt64 = 64 << 20
    /// The entry-count trigger also waits until the entries applied since the last snapshot
    /// hold this many percent of that snapshot's state size in bytes. A snapshot rewrites the
    /// whole state, so this keeps its work proportional to what was written since: a large
    /// shard taking small writes would otherwise be rewritten every `snapshotEntries`.
    public var snapshotLogStatePercent: UInt64 = 100
    /// Nice value of the threads that write snapshots (0 = as the node's other threads, up to
    /// 19): a snapshot is background work, and on a busy machine it should take the CPU the
    /// request path leaves over rather than an equal share of it.
    public var snapshotThreadNice: Int32 = 10
    /// zlib level of snapshot files (1 fastest, 9 smallest).
    public var snapshotCompressionLevel: Int32 = 1
    /// Entries kept in the log behind a snapshot, so slow followers catch up from the log.
    public var keepTrailingEntries: UInt64 = 2_000
    /// Proposals and reads not completed within this many milliseconds fail with `.timeout`.
    public var requestTimeoutMillis = 5_000
    /// Upper bound on inputs taken from the mailbox per loop iteration (the rest wait for the
    /// next one).
    public var maxInputsPerIteration = 10_000
    /// Called when continuing would acknowledge what is not durable (the WAL cannot be written,
    /// a received snapshot cannot be installed): it must not return. The host never stops the
    /// process itself; the embedding program decides how (`mystore-server` exits with status 3).
    public var onFatal: @Sendable (String) -> Never = { message in fatalError("raft host: \(message)") }
    /// The host's monotonic clock, in seconds: ticks, request deadlines. Tests inject a manual
    /// one (with an executor they drive) to run a host without waiting for real time.
    public var clock: @Sendable () -> Double = { monotonicSeconds() }
    /// Snapshot transfers this node sends at once; further ones wait for a later retry.
    public var maxSnapshotSends = 2
    /// Snapshots (of groups whose state machine writes them on a thread of their own) being
    /// written at once on this node; a group due for one waits its turn.
    public var maxSnapshotWrites = 1
    /// How long (µs) a host round waits for its WAL write before the loop goes on without it.
    /// Waiting lets the requests that arrive meanwhile share the next round (fewer, larger
    /// messages and writes); not waiting longer means a slow fdatasync here holds back
    /// nothing that the other replicas can commit. 0: never wait.
    public var walWaitMicros = 2_000
    /// Where the host logs what an operator needs to know: leader and configuration changes
    /// per group (info), replicas created and destroyed, snapshots sent and received (info,
    /// with sizes), and failures (warning). Every line carries the group's id as `group`.
    /// The default drops everything: the embedding program decides where logs go.
    public var logger = Logger(label: "mystore.raft") { _ in SwiftLogNoOpLogHandler() }
    /// How log lines name a node (the embedding program knows its address).
    public var describeNode: @Sendable (NodeID) -> String = { "node \($0)" }

    public init() {}
}

/// What the host reports about one of its replicas.
public struct GroupStatus: Sendable, Equatable {
    public var group: GroupID
    public var replica: ReplicaID
    public var role: RaftRole
    public var leaderNode: NodeID?
    public var term: Term
    public var commitIndex: LogIndex
    public var appliedIndex: LogIndex
    public var lastIndex: LogIndex
    public var voters: [ReplicaID]
    public var learners: [ReplicaID]
}

/// Runs the host loop on a thread that has other work too (an event loop), instead of a
/// thread of its own: inputs then reach the host without waking another thread, and what the
/// host sends and completes runs on that thread at once.
public protocol HostExecutor: Sendable {
    /// Whether the caller runs on the executor's thread.
    var inExecutor: Bool { get }
    /// Runs `work` on the executor's thread, after what is queued there now.
    func execute(_ work: @escaping @Sendable () -> Void)
    /// Runs `work` every `milliseconds` until the returned closure is called.
    func repeatEvery(milliseconds: Int, _ work: @escaping @Sendable () -> Void) -> @Sendable () -> Void
}
