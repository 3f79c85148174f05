import MultiRaft

/// An operation on a Raft group that only the group's leader performs, for the rebalancer.
/// Nodes send it to each other as a peer frame (`PeerFrame.groupRequest`); no client command
/// reaches it.
enum GroupOp: Sendable, Equatable {
    /// The leader's view of the group: members, match indexes, who is active.
    case progress
    /// A membership change (one at a time; Raft refuses one that would lose quorum).
    case confChange(ConfChange)
    /// Hand leadership to a replica, if it is caught up.
    case transfer(ReplicaID)
}

/// The outcome of a `GroupOp`.
enum GroupOpResult: Sendable {
    case progress(ReplicaProgress)
    case done
    /// Not performed: the node does not lead the group, the change was refused, no answer.
    case failed(String)

    var progress: ReplicaProgress? {
        if case .progress(let p) = self { p } else { nil }
    }
}

extension GroupOp {
    func encode(into w: inout BinaryWriter) {
        switch self {
        case .progress:
            w.write(UInt8(0))
        case .confChange(let cc):
            w.write(UInt8(1))
            w.writeBlob(cc.encoded())
        case .transfer(let replica):
            w.write(UInt8(2))
            w.write(replica)
        }
    }

    static func decode(from r: inout BinaryReader) throws(DecodeError) -> GroupOp {
        switch try r.readUInt8() {
        case 0: return .progress
        case 1: return .confChange(try ConfChange.decode(try r.readBlob(limit: 4096)))
        case 2: return .transfer(try r.read())
        case let k: throw DecodeError("unknown group operation \(k)")
        }
    }
}

extension GroupOpResult {
    /// Members listed in a progress report at most (a group has a handful).
    static let maxMembers = 1024

    func encode(into w: inout BinaryWriter) {
        switch self {
        case .progress(let p):
            w.write(UInt8(0))
            w.write(p.leader)
            w.write(p.term)
            w.write(p.lastIndex)
            w.write(p.commitIndex)
            w.write(UInt8(p.isJoint ? 1 : 0))
            for list in [p.voters, p.learners] {
                w.write(UInt32(list.count))
                for r in list { w.write(r) }
            }
            let members = p.match.keys.sorted()
            w.write(UInt32(members.count))
            for r in members {
                w.write(r)
                w.write(p.match[r] ?? 0)
                w.write(UInt8((p.active.contains(r) ? 1 : 0) | (p.snapshotting.contains(r) ? 2 : 0)))
            }
        case .done:
            w.write(UInt8(1))
        case .failed(let why):
            w.write(UInt8(2))
            w.writeBlob(Array(why.utf8))
        }
    }

    static func decode(from r: inout BinaryReader) throws(DecodeError) -> GroupOpResult {
        switch try r.readUInt8() {
        case 0:
            let leader: ReplicaID = try r.read(), term: Term = try r.read(), last: LogIndex = try r.read(), commit: LogIndex = try r.read()
            let joint = try r.readUInt8() != 0
            func ids() throws(DecodeError) -> [ReplicaID] {
                let n = Int(try r.readUInt32())
                guard n <= maxMembers else { throw DecodeError("group progress lists \(n) replicas") }
                var out: [ReplicaID] = []
                for _ in 0..<n { out.append(try r.read()) }
                return out
            }
            let voters = try ids(), learners = try ids()
            var p = ReplicaProgress(leader: leader, term: term, lastIndex: last, commitIndex: commit, voters: voters, learners: learners,
                                    isJoint: joint, match: [:], active: [], snapshotting: [])
            let n = Int(try r.readUInt32())
            guard n <= maxMembers else { throw DecodeError("group progress lists \(n) members") }
            for _ in 0..<n {
                let replica: ReplicaID = try r.read(), match: LogIndex = try r.read(), flags = try r.readUInt8()
                p.match[replica] = match
                if flags & 1 != 0 { p.active.insert(replica) }
                if flags & 2 != 0 { p.snapshotting.insert(replica) }
            }
            return .progress(p)
        case 1:
            return .done
        case 2:
            return .failed(String(decoding: try r.readBlob(limit: 4096), as: UTF8.self))
        case let k:
            throw DecodeError("unknown group operation result \(k)")
        }
    }
}
