import MultiRaft

/// How one simulated run is shaped. Everything random is drawn from `seed`.
public struct SimulationOptions: Sendable {
    public var seed: UInt64 = 1
    /// Voters per group at bootstrap (3 or 5). One more node than this exists, so replicas
    /// can move.
    public var nodes = 3
    /// Raft groups sharing the simulated nodes.
    public var groups = 1
    /// Simulated ticks of faults and load, followed by `quietTicks` of healing.
    public var ticks = 1200
    public var quietTicks = 300
    /// Deliberate bugs turned on in every replica.
    public var plantedBugs: Set<PlantedBug> = []
    /// Print every fault and membership event.
    public var verbose = false

    public init() {}
}

/// A broken invariant, with what is needed to replay it.
public struct Violation: Error, Sendable, CustomStringConvertible {
    public var seed: UInt64
    public var step: Int
    public var time: Int
    public var invariant: String
    public var detail: String

    public var description: String {
        "seed \(seed) step \(step) (time \(time)): \(invariant) violated: \(detail)"
    }
}

/// What a run did, to show that seeds exercise the interesting paths.
public struct SimulationStats: Sendable {
    public var steps = 0
    public var elections = 0
    public var messagesDelivered = 0
    public var messagesDropped = 0
    public var crashes = 0
    public var partitions = 0
    public var writesAcked = 0
    public var readsChecked = 0
    public var confChangesApplied = 0
    public var snapshotsInstalled = 0
    public var compactions = 0
    public var transfers = 0

    public init() {}

    public mutating func add(_ o: SimulationStats) {
        steps += o.steps; elections += o.elections; messagesDelivered += o.messagesDelivered
        messagesDropped += o.messagesDropped; crashes += o.crashes; partitions += o.partitions
        writesAcked += o.writesAcked; readsChecked += o.readsChecked
        confChangesApplied += o.confChangesApplied; snapshotsInstalled += o.snapshotsInstalled
        compactions += o.compactions; transfers += o.transfers
    }
}
