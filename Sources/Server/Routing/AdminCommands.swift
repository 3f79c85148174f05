import KVStore
import MultiRaft
import NIOConcurrencyHelpers
import NIOCore
import ShardRouter

/// Cluster administration over RESP (what `mystore node|rebalance|shard|leader` send), and the
/// internal commands the rebalancer uses to drive a shard's Raft group from any node:
///
/// - `MYSTORE.NODE ADD host:port | REMOVE id|host:port | LIST`, `MYSTORE.REBALANCE [DRYRUN]`,
///   `MYSTORE.SHARDMOVE shard from to`, `MYSTORE.LEADERTRANSFER shard to`, `MYSTORE.MOVES`:
///   executed by the meta group's leader (forwarded there).
/// - `MYSTORE.GROUPPROGRESS group`, `MYSTORE.CONFCHANGE group op replica`,
///   `MYSTORE.TRANSFER group replica`: executed by the group's leader.
/// - `MYSTORE.JOININFO host:port`: answered by any node, for a node joining the cluster.
extension CommandRouter {
    static let adminNames: Set<String> = [
        "MYSTORE.NODE", "MYSTORE.REBALANCE", "MYSTORE.SHARDMOVE", "MYSTORE.LEADERTRANSFER", "MYSTORE.MOVES",
        "MYSTORE.GROUPPROGRESS", "MYSTORE.CONFCHANGE", "MYSTORE.TRANSFER", "MYSTORE.JOININFO",
    ]

    func executeAdmin(_ name: String, _ args: [[UInt8]], hops: UInt8, deadline: Double, reply: @escaping Reply) {
        let a = args.dropFirst().map { String(decoding: $0, as: UTF8.self) }
        switch name {
        case "MYSTORE.JOININFO":
            reply(joinInfo(a))
        case "MYSTORE.GROUPPROGRESS", "MYSTORE.CONFCHANGE", "MYSTORE.TRANSFER":
            guard let gid = a.first.flatMap({ GroupID($0) }) else { return reply(.error("ERR usage: \(name) <group> ...")) }
            onLeader(of: gid, args: args, hops: hops, deadline: deadline, reply: reply) { [self] done in
                groupCommand(name, gid, Array(a.dropFirst()), reply: done)
            }
        default:
            onLeader(of: ClusterNode.metaGroup, args: args, hops: hops, deadline: deadline, reply: reply) { [self] done in
                node.rebalancer.command(name, a, reply: done)
            }
        }
    }

    /// Runs `local` where this node leads `group`; otherwise forwards the command to the
    /// leader (or, with no leader known, to a node that may know), retrying until `deadline`.
    func onLeader(of group: GroupID, args: [[UInt8]], hops: UInt8, deadline: Double, reply: @escaping Reply,
                  local: @escaping @Sendable (@escaping Reply) -> Void) {
        let st = node.host.status(of: group)
        if st?.role == .leader { return local(reply) }
        let retry: @Sendable () -> Void = { [self] in
            guard now() < deadline else { return reply(.error("TRYAGAIN group \(group) has no reachable leader; retry")) }
            loop.scheduleTask(in: .milliseconds(50)) { [self] in
                onLeader(of: group, args: args, hops: hops, deadline: deadline, reply: reply, local: local)
            }
        }
        var target = st?.leaderNode
        if target == nil && st == nil {
            // Not hosted here: ask a node that holds a replica.
            let meta = node.meta
            let holders = group == ClusterNode.metaGroup ? Array(meta.addresses.keys) : meta.replicas(of: ClusterNode.shard(of: group))
            target = holders.filter { $0 != node.selfID }.randomElement()
        }
        guard let target, target != node.selfID, hops < Self.maxHops else { return retry() }
        let remaining = Int64(max(100, (deadline - now()) * 1000))
        node.transport.forward(args, hops: hops + 1, to: target, budgetMillis: remaining, timeoutMillis: remaining) { outcome in
            guard case .reply(let bytes) = outcome else { return retry() }
            reply(.raw(ByteBuffer(bytes: bytes)))
        }
    }

    private func joinInfo(_ a: [String]) -> RESPValue {
        guard a.count == 1, let address = try? NodeAddress(parsing: a[0]) else { return .error("ERR usage: MYSTORE.JOININFO <host:port>") }
        let meta = node.meta
        let plan = node.plan
        let id = meta.node(at: address)?.id ?? 0
        return .array([
            .bulk(String(node.clusterID, radix: 16)), .integer(Int64(id)), .integer(Int64(plan.config.shardCount)),
            .integer(Int64(plan.config.replicationFactor)), .array(plan.membership.nodes.map { .bulk($0.description) }),
            .array(meta.addresses.sorted { $0.key < $1.key }.map { .bulk("\($0.key) \($0.value)") }),
        ])
    }

    private func groupCommand(_ name: String, _ gid: GroupID, _ a: [String], reply: @escaping Reply) {
        switch name {
        case "MYSTORE.GROUPPROGRESS":
            node.host.replicaProgress(gid) { p in
                guard let p else { return reply(.error("TRYAGAIN not the leader of group \(gid)")) }
                reply(GroupProgressCodec.encode(p))
            }
        case "MYSTORE.CONFCHANGE":
            guard a.count == 2, let r = ReplicaID(a[1]) else { return reply(.error("ERR usage: MYSTORE.CONFCHANGE <group> addlearner|addvoter|remove <replica>")) }
            let change: ConfChange
            switch a[0].lowercased() {
            case "addlearner": change = .addLearner(r)
            case "addvoter": change = .addVoter(r)
            case "remove": change = .remove(r)
            default: return reply(.error("ERR unknown change '\(a[0])'"))
            }
            node.host.proposeConfChange(gid, change) { result in
                switch result {
                case .success: reply(.ok)
                case .failure(let e): reply(.error("ERR \(e)"))
                }
            }
        default:  // MYSTORE.TRANSFER
            guard a.count == 1, let r = ReplicaID(a[0]) else { return reply(.error("ERR usage: MYSTORE.TRANSFER <group> <replica>")) }
            node.host.transferLeadershipIfCaughtUp(gid, to: r)
            reply(.ok)
        }
    }
}

/// `MYSTORE.GROUPPROGRESS` replies: the leader's view of a group as a RESP array.
enum GroupProgressCodec {
    static func encode(_ p: ReplicaProgress) -> RESPValue {
        let members = p.match.keys.sorted()
        return .array([
            .integer(Int64(p.leader)), .integer(Int64(p.term)), .integer(Int64(p.lastIndex)), .integer(Int64(p.commitIndex)),
            .integer(p.isJoint ? 1 : 0),
            .array(p.voters.map { .integer(Int64($0)) }), .array(p.learners.map { .integer(Int64($0)) }),
            .array(members.map { r in
                .array([.integer(Int64(r)), .integer(Int64(p.match[r] ?? 0)), .integer(p.active.contains(r) ? 1 : 0), .integer(p.snapshotting.contains(r) ? 1 : 0)])
            }),
        ])
    }

    static func decode(_ v: RESPValue) -> ReplicaProgress? {
        guard case .array(let p) = v.parsedIfRaw, p.count == 8, case .integer(let leader) = p[0], case .integer(let term) = p[1],
              case .integer(let last) = p[2], case .integer(let commit) = p[3], case .integer(let joint) = p[4],
              case .array(let voters) = p[5], case .array(let learners) = p[6], case .array(let members) = p[7] else { return nil }
        func ids(_ a: [RESPValue]) -> [ReplicaID] { a.compactMap { if case .integer(let n) = $0 { ReplicaID(n) } else { nil } } }
        var out = ReplicaProgress(leader: ReplicaID(leader), term: Term(term), lastIndex: LogIndex(last), commitIndex: LogIndex(commit),
                                  voters: ids(voters), learners: ids(learners), isJoint: joint != 0, match: [:], active: [], snapshotting: [])
        for m in members {
            guard case .array(let f) = m, f.count == 4, case .integer(let r) = f[0], case .integer(let match) = f[1],
                  case .integer(let active) = f[2], case .integer(let snap) = f[3] else { continue }
            out.match[ReplicaID(r)] = LogIndex(match)
            if active != 0 { out.active.insert(ReplicaID(r)) }
            if snap != 0 { out.snapshotting.insert(ReplicaID(r)) }
        }
        return out
    }
}
