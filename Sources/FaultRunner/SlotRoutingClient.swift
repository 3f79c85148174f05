import MultiRaft
import MyStoreClient
import ShardRouter

/// A client that behaves as Redis Cluster clients do (redis-py's RedisCluster, Jedis,
/// go-redis): it routes each key by the slot map from `CLUSTER SLOTS`, follows `-MOVED` (and
/// updates the map) and `-ASK` (one request, after `ASKING`), retries `-TRYAGAIN` and its
/// kin after a pause, and gives up after a few of them. It sends plain commands, without a
/// MyStore session, and it trusts those replies to mean "not executed": a write it gives up on
/// is recorded as failed (it changed nothing), so a node that answers MOVED or TRYAGAIN for a
/// write that was applied makes the history non-linearizable.
final class SlotRoutingClient {
    /// What became of one command.
    enum Outcome {
        /// The final reply (an error reply other than the "not executed" ones included).
        case reply(RESPReply)
        /// Every try was answered "not executed" (MOVED/ASK beyond the redirect bound, TRYAGAIN,
        /// CLUSTERDOWN, ...), or no connection could be opened: nothing was applied.
        case notExecuted(String)
        /// The request was sent but its reply was lost (timeout, closed connection).
        case lost
    }

    /// Redirects followed per command before giving up (redis-py follows up to 5 by default).
    static let maxRedirects = 5
    /// Tries of a command answered TRYAGAIN/CLUSTERDOWN/... before giving up.
    static let maxRetries = 3
    /// Error codes a Redis Cluster client retries as "not executed".
    static let retriedCodes: Set<String> = ["TRYAGAIN", "CLUSTERDOWN", "MASTERDOWN", "LOADING", "READONLY"]

    let cluster: Cluster
    let timeout: Double
    private var map: SlotMap?
    private var mapIsStale = true
    private var connections: [Int: RESPConnection] = [:]
    private var rng: SplitMix64

    init(cluster: Cluster, timeout: Double, seed: UInt64) {
        self.cluster = cluster
        self.timeout = timeout
        rng = SplitMix64(seed: seed)
    }

    /// Sends `command`, whose key hashes to `slot`, following the cluster's redirects.
    func send(_ command: [[UInt8]], slot: Slot) -> Outcome {
        if mapIsStale { refreshMap() }
        var target = node(map?.owner(of: slot)) ?? randomNode()
        var asking = false
        var redirects = 0
        var retries = 0
        while true {
            guard let connection = connection(target) else {
                mapIsStale = true
                return .notExecuted("cannot connect to node \(target)")
            }
            let reply: RESPReply
            do {
                reply = asking ? try connection.pipeline([[Array("ASKING".utf8)], command]).last! : try connection.send(command)
            } catch {
                connections[target] = nil
                mapIsStale = true
                return .lost
            }
            asking = false
            guard let message = reply.errorMessage else { return .reply(reply) }
            if let redirect = Redirect(errorMessage: message) {
                redirects += 1
                guard redirects <= Self.maxRedirects, let next = node(redirect.node) else { return .notExecuted(message) }
                if case .moved(let movedSlot, let address) = redirect {
                    map?.assign(movedSlot, to: address)
                    mapIsStale = true
                } else {
                    asking = true
                }
                target = next
                continue
            }
            if Self.retriedCodes.contains(String(message.prefix { $0 != " " })) {
                retries += 1
                guard retries < Self.maxRetries else { return .notExecuted(message) }
                sleepSeconds(0.05 * Double(retries))
                continue
            }
            return .reply(reply)
        }
    }

    private func refreshMap() {
        for _ in 0..<cluster.count {
            let i = randomNode()
            guard let c = connection(i), let reply = try? c.send([Array("CLUSTER".utf8), Array("SLOTS".utf8)]),
                  reply.errorMessage == nil, let fetched = try? SlotMap(clusterSlots: reply, answeredBy: cluster.addresses[i]) else {
                connections[i] = nil
                continue
            }
            map = fetched
            mapIsStale = false
            return
        }
    }

    private func node(_ address: NodeAddress?) -> Int? {
        address.flatMap { a in cluster.addresses.firstIndex(of: a) }
    }

    private func randomNode() -> Int { Int(rng.next() % UInt64(cluster.count)) }

    private func connection(_ i: Int) -> RESPConnection? {
        if let c = connections[i], c.isOpen { return c }
        connections[i] = try? cluster.connection(i, timeout: timeout)
        return connections[i]
    }
}
