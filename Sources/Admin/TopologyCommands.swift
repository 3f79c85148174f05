import ArgumentParser
import Foundation
import MyStoreClient
import ShardRouter

/// `mystore node add|remove|list`: the cluster's nodes as the meta group records them.
struct NodeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "node",
        abstract: "Add, remove (drain) and list the cluster's nodes.",
        subcommands: [NodeAdd.self, NodeRemove.self, NodeList.self]
    )

    struct NodeAdd: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "add",
            abstract: "Register a node started with `mystore-server --join`; it joins the meta group and receives shards on `mystore rebalance`."
        )
        @Argument(help: ArgumentHelp("The new node's client address.", valueName: "host:port")) var address: String
        @OptionGroup var cluster: ClusterOptions

        func run() throws {
            let c = try cluster.client()
            let id = try Topology.expectInteger(try c.command(Topology.args("MYSTORE.NODE", "ADD", address)), what: "node add")
            if cluster.json { print(try Output.json(["node": id])) } else { print("node \(id) registered at \(address)") }
        }
    }

    struct NodeRemove: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "remove",
            abstract: "Drain a node (move every replica away; refused when that is impossible), then remove it."
        )
        @Argument(help: ArgumentHelp("The node's id or address.", valueName: "node")) var node: String
        @Flag(help: "Return once the drain is queued instead of following it.") var noWait = false
        @Option(help: ArgumentHelp("Longest time to follow the drain.", valueName: "seconds")) var waitTimeout: Double = 1800
        @OptionGroup var cluster: ClusterOptions

        func run() throws {
            let c = try cluster.client()
            let reply = try c.command(Topology.args("MYSTORE.NODE", "REMOVE", node))
            if case .error(let e) = reply { throw AdminError(e) }
            let plan = Topology.Plan(reply)
            if !cluster.json { plan.printOperations(header: "draining node \(node):") }
            guard !noWait else { return }
            try Topology.follow(c, cluster: cluster, timeout: waitTimeout, until: { rows in
                rows.first { $0.id == node || $0.address == node }.map { $0.state == "removed" } ?? true
            })
        }
    }

    struct NodeList: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "list", abstract: "List the nodes with their state, replicas and leaders.")
        @OptionGroup var cluster: ClusterOptions

        func run() throws {
            let c = try cluster.client()
            let rows = try Topology.nodes(c)
            print(cluster.json ? try Output.json(rows) : Topology.table(rows))
        }
    }
}

/// `mystore rebalance [--dry-run]`: even out replicas and leaders over the nodes.
struct RebalanceCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rebalance",
        abstract: "Plan and run replica moves and leader changes so every node holds an even share (±1).",
        discussion: "Each move adds a learner on the target, streams it the shard's snapshot, promotes it once caught up, then removes the old replica; a bounded number run at once, one per shard."
    )
    @Flag(help: "Only print the plan.") var dryRun = false
    @Flag(help: "Return once the plan is queued instead of following it.") var noWait = false
    @Option(help: ArgumentHelp("Longest time to follow the rebalance.", valueName: "seconds")) var waitTimeout: Double = 1800
    @OptionGroup var cluster: ClusterOptions

    func run() throws {
        let c = try cluster.client()
        // Each plan moves every shard at most once; plan again until a plan is complete.
        for round in 1...8 {
            let plan = try once(c)
            if dryRun || noWait || plan.complete || plan.operations.isEmpty { return }
            if !cluster.json { print("planning again (round \(round + 1))") }
        }
    }

    private func once(_ c: ClusterClient) throws -> Topology.Plan {
        var reply = try c.command(Topology.args("MYSTORE.REBALANCE", dryRun ? "DRYRUN" : "RUN"))
        // A node added a moment ago needs a few seconds to catch up with the meta group.
        let start = Date()
        while case .error(let e) = reply, e.hasPrefix("TRYAGAIN"), Date().timeIntervalSince(start) < 60 {
            Thread.sleep(forTimeInterval: 0.5)
            reply = try c.command(Topology.args("MYSTORE.REBALANCE", dryRun ? "DRYRUN" : "RUN"))
        }
        if case .error(let e) = reply { throw AdminError(e) }
        let plan = Topology.Plan(reply)
        if dryRun {
            print(cluster.json ? try Output.json(plan) : plan.text())
            return plan
        }
        if !cluster.json { plan.printOperations(header: "plan:") }
        guard !noWait else { return plan }
        try Topology.follow(c, cluster: cluster, timeout: waitTimeout, until: { _ in true })
        return plan
    }
}

/// `mystore shard move SHARD --from NODE --to NODE`.
struct ShardCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "shard", abstract: "Move a shard's replica.", subcommands: [Move.self])

    struct Move: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "move", abstract: "Move one replica of a shard from one node to another.")
        @Argument(help: "The shard number.") var shard: Int
        @Option(help: ArgumentHelp("Node (id or address) the replica leaves.", valueName: "node")) var from: String
        @Option(help: ArgumentHelp("Node (id or address) it moves to.", valueName: "node")) var to: String
        @Flag(help: "Return once the move is queued.") var noWait = false
        @Option(help: ArgumentHelp("Longest time to follow the move.", valueName: "seconds")) var waitTimeout: Double = 1800
        @OptionGroup var cluster: ClusterOptions

        func run() throws {
            let c = try cluster.client()
            let reply = try c.command(Topology.args("MYSTORE.SHARDMOVE", String(shard), from, to))
            if case .error(let e) = reply { throw AdminError(e) }
            guard !noWait else { return print("move of shard \(shard) queued") }
            try Topology.follow(c, cluster: cluster, timeout: waitTimeout, until: { _ in true })
        }
    }
}

/// `mystore leader transfer SHARD --to NODE`.
struct LeaderCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "leader", abstract: "Move a shard's leadership.", subcommands: [Transfer.self])

    struct Transfer: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "transfer", abstract: "Make a node the shard's preferred leader and hand leadership to it once it is caught up.")
        @Argument(help: "The shard number.") var shard: Int
        @Option(help: ArgumentHelp("Node (id or address) holding a replica of the shard.", valueName: "node")) var to: String
        @OptionGroup var cluster: ClusterOptions

        func run() throws {
            let c = try cluster.client()
            let reply = try c.command(Topology.args("MYSTORE.LEADERTRANSFER", String(shard), to))
            if case .error(let e) = reply { throw AdminError(e) }
            print("leadership of shard \(shard) goes to \(to) once it is caught up")
        }
    }
}

/// Shared by the topology commands: the wire calls, progress reporting and the final table.
enum Topology {
    static func args(_ parts: String...) -> [[UInt8]] { parts.map { Array($0.utf8) } }

    static func expectInteger(_ r: RESPReply, what: String) throws -> Int64 {
        switch r {
        case .integer(let n): return n
        case .error(let e): throw AdminError("\(what): \(e)")
        default: throw AdminError("\(what): unexpected reply \(r)")
        }
    }

    static func text(_ r: RESPReply) -> String {
        switch r {
        case .bulkString(let b): String(decoding: b, as: UTF8.self)
        case .simpleString(let s): s
        case .integer(let n): String(n)
        default: ""
        }
    }

    struct Plan: Codable {
        var operations: [String] = []
        var nodes: [String] = []
        var notes: [String] = []
        /// False when another plan is needed after this one ran (each plan moves a shard once).
        var complete = true

        init(_ r: RESPReply) {
            guard case .array(let p) = r, p.count >= 3, case .array(let ops) = p[0], case .array(let nodes) = p[1], case .array(let notes) = p[2] else { return }
            operations = ops.map(Topology.text)
            self.nodes = nodes.map(Topology.text)
            self.notes = notes.map(Topology.text)
            if p.count > 3, case .integer(let c) = p[3] { complete = c != 0 }
        }

        func text() -> String {
            var lines = operations.isEmpty ? ["nothing to do: the cluster is balanced"] : operations.map { "  " + $0 }
            lines += ["after the plan:"] + nodes.map { "  " + $0 }
            lines += notes.map { "note: " + $0 }
            return lines.joined(separator: "\n")
        }

        func printOperations(header: String) {
            print(header)
            print(text())
            fflush(nil)
        }
    }

    struct NodeRow: Codable {
        var id: String
        var address: String
        var state: String
        var replicas: Int
        var preferredLeaders: Int
        var leaders: Int
        var health: String
    }

    static func nodes(_ c: ClusterClient) throws -> [NodeRow] {
        let reply = try c.command(args("MYSTORE.NODE", "LIST"))
        if case .error(let e) = reply { throw AdminError(e) }
        guard case .array(let rows) = reply else { throw AdminError("node list: unexpected reply") }
        var leaders: [String: Int] = [:]
        if let shards = try? c.shards() {
            for s in shards { if let l = s.leader?.node.description { leaders[l, default: 0] += 1 } }
        }
        return rows.compactMap { row in
            guard case .array(let f) = row, f.count == 6 else { return nil }
            let address = text(f[1])
            return NodeRow(id: text(f[0]), address: address, state: text(f[2]), replicas: Int(text(f[3])) ?? 0,
                           preferredLeaders: Int(text(f[4])) ?? 0, leaders: leaders[address] ?? 0, health: text(f[5]))
        }
    }

    static func table(_ rows: [NodeRow]) -> String {
        Output.table(headers: ["NODE", "ADDRESS", "STATE", "HEALTH", "REPLICAS", "LEADERS"],
                     rows: rows.map { [$0.id, $0.address, $0.state, $0.health, String($0.replicas), String($0.leaders)] })
    }

    /// Snapshot bytes sent so far, summed over the nodes (from MYSTORE.STATUS).
    static func bytesStreamed(_ c: ClusterClient, _ nodes: [NodeRow]) -> UInt64 {
        var total: UInt64 = 0
        for n in nodes where n.state != "removed" {
            guard let a = try? NodeAddress(parsing: n.address), let bytes = try? c.status(a),
                  let json = try? JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any],
                  let snaps = json["snapshots"] as? [String: Any], let sent = snaps["bytes_sent"] as? NSNumber else { continue }
            total += sent.uint64Value
        }
        return total
    }

    /// Follows the queued moves until none is left (and `done` holds), printing a progress
    /// line, then waits for leaders to settle on their preferred replicas and prints the
    /// table of replicas and leaders per node (JSON with --json).
    static func follow(_ c: ClusterClient, cluster: ClusterOptions, timeout: Double, until done: ([NodeRow]) -> Bool) throws {
        let start = Date()
        let startBytes = bytesStreamed(c, (try? nodes(c)) ?? [])
        var total = 0
        var firstDone: Int64?
        var lastLine = ""
        while true {
            let reply = try c.command(args("MYSTORE.MOVES"))
            guard case .array(let p) = reply, p.count == 2, case .integer(let finished) = p[0], case .array(let queue) = p[1] else {
                if case .error(let e) = reply, e.hasPrefix("TRYAGAIN") { Thread.sleep(forTimeInterval: 0.5); continue }
                throw AdminError("moves: unexpected reply \(reply)")
            }
            if firstDone == nil { firstDone = finished }
            let doneCount = Int(finished - firstDone!)
            total = max(total, doneCount + queue.count)
            let rows = (try? nodes(c)) ?? []
            let elapsed = Date().timeIntervalSince(start)
            let bytes = bytesStreamed(c, rows) &- startBytes
            let rate = elapsed > 0 ? Double(bytes) / elapsed / 1e6 : 0
            let left = doneCount > 0 ? elapsed / Double(doneCount) * Double(queue.count) : 0
            let active = queue.compactMap { q -> String? in
                guard case .array(let f) = q, f.count == 4, text(f[3]) != "queued" else { return nil }
                return "shard \(text(f[0])) \(text(f[1]))→\(text(f[2])): \(text(f[3]))"
            }
            let line = String(format: "moves %d/%d done, %.1f MB streamed (%.1f MB/s), %@", doneCount, total, Double(bytes) / 1e6, rate,
                              doneCount > 0 && !queue.isEmpty ? String(format: "~%.0f s left", left) : "") + (active.isEmpty ? "" : " | " + active.joined(separator: "; "))
            if !cluster.json && line != lastLine {
                FileHandle.standardError.write(Data((line + "\n").utf8))
                lastLine = line
            }
            if queue.isEmpty && done(rows) { break }
            if elapsed > timeout { throw AdminError("still working after \(Int(timeout)) s; follow with `mystore node list`") }
            Thread.sleep(forTimeInterval: 0.5)
        }
        // Leaders follow their preferred replicas within a few seconds.
        var rows = try nodes(c)
        let settle = Date()
        while Date().timeIntervalSince(settle) < 20 && rows.contains(where: { $0.state == "active" && $0.leaders != $0.preferredLeaders }) {
            Thread.sleep(forTimeInterval: 1)
            rows = try nodes(c)
        }
        print(cluster.json ? try Output.json(rows) : table(rows))
    }
}
