import Foundation
import MultiRaft

/// The kinds of fault the runner injects.
enum FaultKind: String, CaseIterable, Sendable {
    /// SIGKILL one node, restart it after the hold.
    case kill
    /// SIGKILL the node leading a key's shard, restart it after the hold.
    case killLeader = "kill-leader"
    /// SIGKILL a majority at once and restart them soon after (a rack losing power).
    case killMajority = "kill-majority"
    /// SIGSTOP the leader of a key's shard, SIGCONT after the hold.
    case pause
    /// Cut the nodes into a majority and a minority.
    case partition
    /// Cut the leader of a key's shard off from every other node.
    case isolateLeader = "isolate-leader"
    /// Cut the other nodes into two sides that only one bridge node reaches.
    case bridge
    /// Pause the leader of a key's shard and cut it off at once; resume it still cut off, so it
    /// wakes up believing it leads while the others have elected a new leader (a long GC pause
    /// during a partition); heal a little later. Clients keep talking to it.
    case zombieLeader = "zombie-leader"
    /// Change a key's shard's membership while the load runs: move one of its replicas to a
    /// node that holds none (add learner, snapshot, promote, remove the old one), or, when every
    /// node holds it, hand its leadership to another replica.
    case membership
}

/// One injected fault, for the summary.
struct FaultEvent: Sendable {
    var kind: FaultKind
    var nodes: [Int]
    var start: Double
    var end: Double
}

/// Injects faults one after another: a calm period, a fault, a hold, healing.
final class FaultScheduler: @unchecked Sendable {
    let cluster: Cluster
    let kinds: [FaultKind]
    let keys: [String]
    private var rng: SplitMix64
    private(set) var events: [FaultEvent] = []

    init(cluster: Cluster, kinds: [FaultKind], keys: [String], seed: UInt64) {
        self.cluster = cluster
        self.kinds = kinds
        self.keys = keys
        rng = SplitMix64(seed: seed ^ 0xFA17)
    }

    private func uniform(_ lo: Double, _ hi: Double) -> Double { lo + (hi - lo) * Double(rng.next() % 10_000) / 10_000 }
    private func pick(_ n: Int) -> Int { Int(rng.next() % UInt64(max(n, 1))) }
    private func shuffled(_ a: [Int]) -> [Int] {
        var a = a
        for i in stride(from: a.count - 1, to: 0, by: -1) { a.swapAt(i, pick(i + 1)) }
        return a
    }

    /// The leader of a random key's shard, or a random node when none is known.
    private func someLeader() -> Int {
        cluster.leader(ofKey: keys[pick(keys.count)]) ?? pick(cluster.count)
    }

    /// Runs faults until `deadline` (seconds on the run's clock), leaving everything healed.
    func run(until deadline: Double, calm: ClosedRange<Double>, hold: ClosedRange<Double>) {
        guard !kinds.isEmpty else {
            sleepSeconds(deadline - log.seconds())
            return
        }
        while log.seconds() + calm.lowerBound + hold.lowerBound < deadline {
            sleepSeconds(min(uniform(calm.lowerBound, calm.upperBound), deadline - log.seconds()))
            let kind = kinds[pick(kinds.count)]
            let holdFor = kind == .killMajority ? uniform(0.2, 1.5) : uniform(hold.lowerBound, hold.upperBound)
            let started = log.seconds()
            let nodes = inject(kind)
            log.say("fault \(kind.rawValue) on node(s) \(nodes.map(String.init).joined(separator: ",")) for \(String(format: "%.1f", holdFor)) s")
            sleepSeconds(min(holdFor, max(0, deadline - log.seconds()) + 1))
            heal(kind, nodes)
            events.append(FaultEvent(kind: kind, nodes: nodes, start: started, end: log.seconds()))
        }
        if log.seconds() < deadline { sleepSeconds(deadline - log.seconds()) }
    }

    /// Injects `kind`; returns the nodes it hit.
    func inject(_ kind: FaultKind) -> [Int] {
        let all = Array(0..<cluster.count)
        switch kind {
        case .kill:
            let n = pick(cluster.count)
            cluster.kill9(n)
            return [n]
        case .killLeader:
            let n = someLeader()
            cluster.kill9(n)
            return [n]
        case .killMajority:
            let victims = Array(shuffled(all).prefix(cluster.count / 2 + 1)).sorted()
            for n in victims { cluster.kill9(n) }
            return victims
        case .pause:
            let n = someLeader()
            cluster.pause(n)
            return [n]
        case .partition:
            let order = shuffled(all)
            let minority = Array(order.prefix((cluster.count - 1) / 2)).sorted()
            try? cluster.network.cut(minority, from: all.filter { !minority.contains($0) })
            return minority
        case .isolateLeader:
            let n = someLeader()
            try? cluster.network.cut([n], from: all.filter { $0 != n })
            return [n]
        case .zombieLeader:
            let n = someLeader()
            try? cluster.network.cut([n], from: all.filter { $0 != n })
            cluster.pause(n)
            return [n]
        case .membership:
            return changeMembership()
        case .bridge:
            let order = shuffled(all)
            let bridge = order[0]
            let rest = Array(order.dropFirst())
            let left = Array(rest.prefix(rest.count / 2)), right = Array(rest.dropFirst(rest.count / 2))
            try? cluster.network.cut(left, from: right)
            return [bridge]
        }
    }

    func heal(_ kind: FaultKind, _ nodes: [Int]) {
        switch kind {
        case .kill, .killLeader, .killMajority:
            for n in nodes {
                do { try cluster.start(n) } catch { log.say("restart of node \(n) failed: \(error)") }
            }
        case .pause:
            for n in nodes { cluster.resume(n) }
        case .partition, .isolateLeader, .bridge:
            cluster.network.heal()
        case .zombieLeader:
            for n in nodes { cluster.resume(n) }
            sleepSeconds(1.5)
            cluster.network.heal()
        case .membership:
            break  // the change runs to completion by itself
        }
    }

    /// Queues a replica move (or a leader transfer) of a random key's shard through any node
    /// that answers; returns the nodes involved (from, to), empty when nothing was accepted.
    private func changeMembership() -> [Int] {
        guard let shard = cluster.shardMap.shard(forKey: Array(keys[pick(keys.count)].utf8))?.id.rawValue else { return [] }
        let views = (0..<cluster.count).map { cluster.status($0) }
        let holders = views.indices.filter { views[$0]?[shard] != nil }
        let others = views.indices.filter { views[$0] != nil && views[$0]?[shard] == nil }
        guard !holders.isEmpty else { return [] }
        let from = holders[pick(holders.count)]
        let command: [String]
        var involved = [from]
        if !others.isEmpty {
            let to = others[pick(others.count)]
            command = ["MYSTORE.SHARDMOVE", String(shard), String(from + 1), String(to + 1)]
            involved.append(to)
        } else {
            command = ["MYSTORE.LEADERTRANSFER", String(shard), String(from + 1)]
        }
        for i in shuffled(Array(0..<cluster.count)) {
            guard let c = try? cluster.connection(i, timeout: 2), let r = try? c.send(command.map { Array($0.utf8) }) else { continue }
            log.say("\(command.joined(separator: " ")) via node \(i): \(r.text ?? String(describing: r))")
            return involved
        }
        return []
    }
}
