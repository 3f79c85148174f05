/// The bookkeeping between a `Ready` and `RaftReplica.persisted`: rounds of writes on their way
/// to disk, oldest first, and what waits for each (the cores' durable reports and their
/// `messagesAfterWrite`). Pure: `RaftHost` and the simulator both keep their writes in flight
/// here, so the simulator checks the host's own rule.
///
/// The rule: a round that writes waits for its write; a round that writes nothing waits behind
/// the last write in flight (its messages may answer something that write holds), or, with
/// none in flight, is durable at once. Rounds complete in order.
public struct WriteRounds<Waiting> {
    /// One round: the durable reports due and the messages to send once its write is durable.
    public struct Round {
        /// The write carrying the round's records (0 before it is queued, or when it wrote nothing).
        public internal(set) var seq: UInt64 = 0
        public var marks: [(group: GroupID, replica: ReplicaID, mark: DurableMark)] = []
        /// The rounds' `messagesAfterWrite`, to send when it is durable.
        public var waiting: [Waiting] = []

        public init() {}

        /// Takes what `rd` leaves waiting for the write: its durable report, when due, and its
        /// `messagesAfterWrite`, each wrapped by `wrap`.
        public mutating func collect(_ rd: Ready, group: GroupID, replica: ReplicaID, wrap: (Message) -> Waiting) {
            if rd.needsDurableReport { marks.append((group, replica, rd.durableMark)) }
            for m in rd.messagesAfterWrite { waiting.append(wrap(m)) }
        }

        public var isEmpty: Bool { marks.isEmpty && waiting.isEmpty }
    }

    /// Rounds handed to storage and not yet durable, oldest first.
    public private(set) var inFlight: [Round] = []

    public init() {}

    /// The last write in flight.
    public var lastSeq: UInt64? { inFlight.last?.seq }

    /// Queues `round`. `write` is the sequence number of the write that carries its records
    /// (increasing), or nil when it wrote nothing. Returns the round if it is durable at once
    /// (nothing written, nothing in flight): its reports and messages are due now.
    public mutating func enqueue(_ round: Round, write: UInt64?) -> Round? {
        if let seq = write {
            precondition(seq > (lastSeq ?? 0), "writes complete in order: \(seq) after \(lastSeq ?? 0)")
            var r = round
            r.seq = seq
            inFlight.append(r)
            return nil
        }
        guard !inFlight.isEmpty else { return round }
        inFlight[inFlight.count - 1].marks.append(contentsOf: round.marks)
        inFlight[inFlight.count - 1].waiting.append(contentsOf: round.waiting)
        return nil
    }

    /// Storage made every write through `seq` durable: the rounds now complete, oldest first.
    public mutating func complete(through seq: UInt64) -> [Round] {
        let n = inFlight.prefix { $0.seq <= seq }.count
        defer { inFlight.removeFirst(n) }
        return Array(inFlight.prefix(n))
    }

    /// A crash: every write in flight is lost, and nothing waits for it any more.
    public mutating func discard() { inFlight = [] }
}
