/// A membership change, proposed through the log. One change of at most one voter is applied
/// directly ("one server at a time"); anything larger goes through joint consensus. An empty
/// change leaves a joint configuration.
public struct ConfChange: Sendable, Hashable {
    public enum Operation: UInt8, Sendable {
        case addVoter = 0
        case addLearner = 1
        case remove = 2
    }

    public struct Single: Sendable, Hashable {
        public var operation: Operation
        public var replica: ReplicaID
        public init(_ operation: Operation, _ replica: ReplicaID) {
            self.operation = operation
            self.replica = replica
        }
    }

    public enum Transition: UInt8, Sendable {
        /// Simple change when possible, otherwise joint consensus that is left automatically.
        case auto = 0
        /// Always joint consensus, left automatically once applied.
        case jointImplicit = 1
        /// Always joint consensus; the application proposes the empty change to leave it.
        case jointExplicit = 2
    }

    public var changes: [Single]
    public var transition: Transition

    public init(_ changes: [Single], transition: Transition = .auto) {
        self.changes = changes
        self.transition = transition
    }

    public static func addVoter(_ id: ReplicaID) -> ConfChange { ConfChange([Single(.addVoter, id)]) }
    public static func addLearner(_ id: ReplicaID) -> ConfChange { ConfChange([Single(.addLearner, id)]) }
    public static func remove(_ id: ReplicaID) -> ConfChange { ConfChange([Single(.remove, id)]) }
    /// Leaves the current joint configuration.
    public static let leaveJoint = ConfChange([])

    public var isLeaveJoint: Bool { changes.isEmpty }

    public func encoded() -> [UInt8] {
        var w = BinaryWriter()
        w.write(UInt8(transition.rawValue))
        w.write(UInt32(changes.count))
        for c in changes {
            w.write(c.operation.rawValue)
            w.write(c.replica)
        }
        return w.bytes
    }

    public static func decode(_ bytes: [UInt8]) throws(DecodeError) -> ConfChange {
        var r = BinaryReader(bytes)
        guard let transition = Transition(rawValue: try r.readUInt8()) else {
            throw DecodeError("conf change: unknown transition")
        }
        let count = try r.readUInt32()
        guard count <= 1024 else { throw DecodeError("conf change: \(count) changes is more than 1024") }
        var changes: [Single] = []
        for _ in 0..<count {
            guard let op = Operation(rawValue: try r.readUInt8()) else {
                throw DecodeError("conf change: unknown operation")
            }
            changes.append(Single(op, try r.read(ReplicaID.self)))
        }
        return ConfChange(changes, transition: transition)
    }
}

/// Computes the configuration that results from a `ConfChange`, without mutating anything,
/// or says why the change is not allowed.
public enum ConfChanger {
    public static func apply(_ cc: ConfChange, to cfg: Configuration) -> Result<Configuration, RaftError> {
        if cc.isLeaveJoint {
            guard cfg.isJoint else { return .failure(.invalidConfChange("not in a joint configuration")) }
            var next = cfg
            next.learners.formUnion(next.learnersNext)
            next.learnersNext = []
            next.outgoing = []
            next.autoLeave = false
            return finish(from: cfg, to: next)
        }
        if cfg.isJoint {
            return .failure(.invalidConfChange("a joint configuration must be left before another change"))
        }
        let joint = cc.transition != .auto || cc.changes.count > 1
        var next = cfg
        if joint {
            next.outgoing = cfg.voters
            next.autoLeave = cc.transition != .jointExplicit
        }
        for change in cc.changes {
            let id = change.replica
            guard id != 0 else { return .failure(.invalidConfChange("replica id 0 is reserved")) }
            if cfg.retired.contains(id) {
                return .failure(.invalidConfChange("replica id \(id) was removed before and cannot be reused"))
            }
            switch change.operation {
            case .addVoter:
                next.learners.remove(id)
                next.learnersNext.remove(id)
                next.voters.insert(id)
            case .addLearner:
                next.voters.remove(id)
                next.learners.remove(id)
                next.learnersNext.remove(id)
                // A voter of the outgoing config stays a voter until the joint config is left.
                if next.outgoing.contains(id) { next.learnersNext.insert(id) } else { next.learners.insert(id) }
            case .remove:
                next.voters.remove(id)
                next.learners.remove(id)
                next.learnersNext.remove(id)
            }
        }
        if next.voters.isEmpty { return .failure(.invalidConfChange("the change would leave no voters")) }
        if !joint && next.voters.symmetricDifference(cfg.voters).count > 1 {
            return .failure(.invalidConfChange("more than one voter changed; use joint consensus"))
        }
        return finish(from: cfg, to: next)
    }

    private static func finish(from old: Configuration, to new: Configuration) -> Result<Configuration, RaftError> {
        var next = new
        // Whoever was a member and no longer is anywhere is retired for good.
        for id in old.members where !next.members.contains(id) { next.retired.insert(id) }
        return .success(next)
    }
}
