import MultiRaft

/// What one replica has made durable: all that survives a crash. The log and hard state go
/// through `MemoryLogStorage` (the same contract as the node's WAL); the snapshot is kept
/// whole. `chains` shadows the durable log for the log-matching check.
struct SimStorage {
    static let group: GroupID = 0
    let log = MemoryLogStorage()
    var snapshot: Snapshot?
    /// chains[k] is the log-prefix hash through index baseIndex + 1 + k; `baseChain` is the
    /// hash at `baseIndex`.
    var chains: [UInt64] = []
    var baseIndex: LogIndex = 0
    var baseChain: UInt64 = 0

    var persistedState: PersistedState {
        let r = log.recovered[Self.group]
        return PersistedState(hardState: r?.hardState ?? HardState(), snapshot: snapshot, entries: r?.entries ?? [])
    }

    func chain(at index: LogIndex) -> UInt64? {
        if index == baseIndex { return baseChain }
        guard index > baseIndex, index <= baseIndex + UInt64(chains.count) else { return nil }
        return chains[Int(index - baseIndex - 1)]
    }

    /// Makes records durable (in memory: they survive a simulated crash).
    func persist(_ records: [WALRecord]) {
        try! log.append(records)  // memory storage cannot fail
    }
}

final class SimReplica {
    let group: Int
    let id: ReplicaID
    /// The replica's in-memory state; meaningless while `alive` is false (crashed node).
    var core: RaftReplica
    var alive = false
    var storage = SimStorage()
    var kv = SimKV()
    var lastSeenCommit: LogIndex = 0
    /// Reads waiting for their ReadIndex, then for the apply index to reach it.
    var reads: [UInt64: PendingRead] = [:]
    /// Writes handed to storage but not yet durable, oldest first (the host's asynchronous
    /// WAL writer); a crash loses them.
    var unsynced: [UnsyncedWrite] = []
    /// What waits for those writes (durable reports, messages), kept as the host keeps it.
    var rounds = WriteRounds<Message>()
    /// The last write's sequence number.
    var writes: UInt64 = 0

    init(group: Int, id: ReplicaID) {
        self.group = group
        self.id = id
        self.core = RaftReplica(settings: RaftSettings(id: id), randomSeed: 0)
    }
}

/// One Ready's writes on their way to disk.
struct UnsyncedWrite {
    var seq: UInt64
    var records: [WALRecord]
    var entries: [Entry]
}

struct PendingRead {
    var key: UInt8
    var committedAtStart: LogIndex
    var readIndex: LogIndex?
}

final class SimNode {
    let index: Int
    var up = true
    var processScheduled = false
    var syncScheduled = false
    /// group -> the replica this node hosts for it.
    var replicas: [Int: SimReplica] = [:]
    init(index: Int) { self.index = index }
}

final class SimGroup {
    let index: Int
    var nodeOf: [ReplicaID: Int] = [:]
    var nextReplicaID: ReplicaID
    let checker: SafetyChecker
    init(index: Int, nextReplicaID: ReplicaID) {
        self.index = index
        self.nextReplicaID = nextReplicaID
        checker = SafetyChecker(group: index)
    }
}
