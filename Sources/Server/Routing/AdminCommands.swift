import KVStore
import MultiRaft
import NIOConcurrencyHelpers
import NIOCore
import ShardRouter
import SystemClock

/// Cluster administration over RESP (what `mystore node|rebalance|shard|leader` send):
///
/// - `MYSTORE.NODE ADD host:port | REMOVE id|host:port | LIST`, `MYSTORE.REBALANCE [DRYRUN]`,
///   `MYSTORE.SHARDMOVE shard from to`, `MYSTORE.LEADERTRANSFER shard to`, `MYSTORE.MOVES`:
///   executed by the meta group's leader (forwarded there).
/// - `MYSTORE.JOININFO host:port`: answered by any node, for a node joining the cluster.
/// - `MYSTORE.BACKUP MAP | BEGIN shard | NEXT id | END id`: online backup (`BackupCommands`),
///   each part run on the leader of the group it reads.
///
/// The operations these drive on a shard's Raft group (progress, membership changes,
/// leadership transfers) are not commands: nodes send them to each other as typed peer frames
/// (`GroupOp`, `ClusterNode.perform`).
extension CommandRouter {
    static let adminNames: Set<String> = [
        "MYSTORE.NODE", "MYSTORE.REBALANCE", "MYSTORE.SHARDMOVE", "MYSTORE.LEADERTRANSFER", "MYSTORE.MOVES", "MYSTORE.JOININFO",
        "MYSTORE.BACKUP",
    ]

    func executeAdmin(_ name: String, _ args: [[UInt8]], hops: UInt8, deadline: Double, reply: @escaping Reply) {
        let a = args.dropFirst().map { String(decoding: $0, as: UTF8.self) }
        switch name {
        case "MYSTORE.JOININFO":
            reply(joinInfo(a))
        case "MYSTORE.BACKUP":
            backup(args, hops: hops, deadline: deadline, reply: reply)
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
            guard monotonicSeconds() < deadline else { return reply(.error("TRYAGAIN group \(group) has no reachable leader; retry")) }
            loop.scheduleTask(in: .milliseconds(50)) { [self] in
                onLeader(of: group, args: args, hops: hops, deadline: deadline, reply: reply, local: local)
            }
        }
        guard let target = node.likelyLeader(of: group), target != node.selfID, hops < Self.maxHops else { return retry() }
        let remaining = Int64(max(100, (deadline - monotonicSeconds()) * 1000))
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
}
