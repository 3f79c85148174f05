import ArgumentParser
import Histogram
import MyStoreClient
import ShardRouter
import Synchronization
#if canImport(Glibc)
import Glibc
#endif
import SystemClock

/// Options shared by the workloads against a running cluster.
struct LoadOptions: ParsableArguments {
    @Option(name: .long, help: "Nodes to connect to, host:port, comma-separated (any node of the cluster).")
    var endpoints: String = "127.0.0.1:7001,127.0.0.1:7002,127.0.0.1:7003"

    @Option(help: "How keys reach their shard: `any` spreads connections over the endpoints and lets the node forward to the shard's leader; `leader` reads CLUSTER SLOTS and sends each key straight to its shard leader's node.")
    var routing: Routing = .any

    @Option(name: [.short, .long], help: "Client connections.")
    var connections: Int = 16

    @Option(name: [.short, .long], help: "Requests in flight per connection (pipeline depth).")
    var pipeline: Int = 1

    @Option(help: "Worker threads driving the connections (0: one per core, at most the connection count).")
    var threads: Int = 0

    @Option(help: "Distinct keys.")
    var keys: Int = 100_000

    @Option(help: "Key size (bytes).")
    var keySize: Int = 32

    @Option(help: "Value size (bytes).")
    var valueSize: Int = 256

    @Option(name: [.short, .long], help: "Measured seconds (ignored with --count).")
    var duration: Double = 10

    @Option(name: [.customShort("n"), .long], help: "Measured requests; the run ends after this many replies (overrides --duration).")
    var count: Int?

    @Option(help: "Seconds of load before measuring.")
    var warmup: Double = 2

    @Option(help: "PIDs of the server processes whose CPU to report, comma-separated (default: every running process named --server-name).")
    var serverPids: String?

    @Option(help: "Process name to look for when --server-pids is not given.")
    var serverName: String = "mystore-server"

    @Flag(help: "Print the result as one JSON object on stdout (the table goes to stderr).")
    var json = false

    @Flag(help: "No live progress line.")
    var quiet = false

    @Flag(help: "Before the run, write every key once (so reads find values).")
    var preload = false

    enum Routing: String, ExpressibleByArgument, Sendable { case any, leader }

    func validate() throws {
        guard connections > 0, pipeline > 0, keys > 0, keySize >= 8, valueSize >= 1 else {
            throw ValidationError("connections, pipeline and keys must be positive; key size at least 8")
        }
    }
}

struct PutBench: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "put", abstract: "SET of random keys against a running cluster.")
    @OptionGroup var options: LoadOptions
    func run() throws { try ClusterLoad(options: options, workload: .put, readRatio: 0).run() }
}

struct GetBench: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "get", abstract: "Linearizable GET of random keys against a running cluster.")
    @OptionGroup var options: LoadOptions
    func run() throws { try ClusterLoad(options: options, workload: .get, readRatio: 1).run() }
}

struct MixedBench: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "mixed", abstract: "GET and SET of random keys, in a given ratio.")
    @OptionGroup var options: LoadOptions
    @Option(help: "Fraction of requests that are reads (0...1).") var readRatio: Double = 0.9
    func run() throws { try ClusterLoad(options: options, workload: .mixed, readRatio: readRatio).run() }
}

struct CasBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cas",
        abstract: "Compare-and-set (SET key new IFEQ old): each connection owns a share of the keys and swaps in the next version of the value it last wrote.")
    @OptionGroup var options: LoadOptions
    func run() throws { try ClusterLoad(options: options, workload: .cas, readRatio: 0).run() }
}

/// One run: connect, warm up, measure, report.
struct ClusterLoad {
    let options: LoadOptions
    let workload: Workload
    let readRatio: Double

    func run() throws {
        let o = options
        let endpoints = try o.endpoints.split(separator: ",").map { try NodeAddress(parsing: String($0).trimmingCharacters(in: " ")) }
        guard !endpoints.isEmpty else { throw ValidationError("no endpoints") }
        let shape = RequestShape(workload: workload, keyCount: o.keys, keySize: o.keySize, valueSize: o.valueSize, readRatio: readRatio)

        // Which node each connection talks to, and which keys it may use.
        var targets: [(node: NodeAddress, pool: [Int32])] = []
        let allKeys = (0..<o.keys).map { Int32($0) }
        switch o.routing {
        case .any:
            for i in 0..<o.connections { targets.append((endpoints[i % endpoints.count], allKeys)) }
        case .leader:
            let map = try fetchSlotMap(endpoints)
            var byNode: [NodeAddress: [Int32]] = [:]
            var order: [NodeAddress] = []
            shape.keys.withUnsafeBufferPointer { k in
                for i in 0..<o.keys {
                    let slot = Slot(forKey: UnsafeBufferPointer(rebasing: k[(i * o.keySize)..<((i + 1) * o.keySize)]))
                    guard let owner = map.owner(of: slot) else { continue }
                    if byNode[owner] == nil { order.append(owner) }
                    byNode[owner, default: []].append(Int32(i))
                }
            }
            guard !order.isEmpty else { throw BenchError("CLUSTER SLOTS names no leader") }
            // Connections per node in proportion to its share of the keys (at least one each).
            let total = Double(o.keys)
            var assigned = 0
            for (j, node) in order.enumerated() {
                let share = j == order.count - 1 ? o.connections - assigned
                    : max(1, Int((Double(byNode[node]!.count) / total * Double(o.connections)).rounded()))
                for _ in 0..<max(0, min(share, o.connections - assigned)) { targets.append((node, byNode[node]!)) }
                assigned = targets.count
            }
            if targets.isEmpty { targets.append((order[0], byNode[order[0]]!)) }
        }
        if workload == .cas {
            // Each key belongs to one connection: split every pool among the connections sharing it.
            var groups: [NodeAddress: [Int]] = [:]
            for (i, t) in targets.enumerated() { groups[t.node, default: []].append(i) }
            if o.routing == .any { groups = [endpoints[0]: Array(targets.indices)] }
            for (_, members) in groups {
                let pool = targets[members[0]].pool
                for (j, m) in members.enumerated() {
                    targets[m].pool = stride(from: j, to: pool.count, by: members.count).map { pool[$0] }
                }
            }
            guard targets.allSatisfy({ !$0.pool.isEmpty }) else { throw ValidationError("cas needs at least as many keys as connections") }
        }

        if o.preload && workload != .cas { try preload(shape: shape, endpoints: endpoints) }

        var connections: [BenchConnection] = []
        for (i, t) in targets.enumerated() {
            let fd = try TCPSocket.connectedDescriptor(to: t.node, timeout: .seconds(10))
            connections.append(BenchConnection(fd: fd, keyPool: t.pool, pipeline: o.pipeline, seed: UInt64(i + 1) &* 0x9E37_79B9_7F4A_7C15 ^ monotonicNanos()))
        }
        let threadCount = max(1, min(o.threads > 0 ? o.threads : Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))), connections.count))
        let control = RunControl(startMeasuring: o.warmup <= 0, count: o.count)
        let workers = (0..<threadCount).map { w in
            Worker(shape: shape, connections: stride(from: w, to: connections.count, by: threadCount).map { connections[$0] },
                   pipeline: o.pipeline, control: control)
        }
        let serverPids: [Int32] = o.serverPids.map { $0.split(separator: ",").compactMap { Int32(String($0).trimmingCharacters(in: " ")) } }
            ?? findProcesses(named: o.serverName)

        var threads: [pthread_t] = []
        for w in workers {
            let box = Unmanaged.passRetained(ThreadBody { w.run(); control.done.add(1, ordering: .relaxed) })
            var t = pthread_t()
            pthread_create(&t, nil, { arg in
                let body = Unmanaged<ThreadBody>.fromOpaque(arg!).takeRetainedValue()
                body.run()
                return nil
            }, box.toOpaque())
            threads.append(t)
        }

        let label = "\(workload.rawValue) c=\(o.connections) p=\(o.pipeline)"
        var measureStart = monotonicNanos()
        if o.warmup > 0 {
            progress(label, phase: "warm-up", until: Double(measureStart) / 1e9 + o.warmup, workers: workers, control: control)
            measureStart = monotonicNanos()
        }
        let serverCPU0 = serverPids.map { processCPUSeconds($0) ?? 0 }
        let clientCPU0 = selfCPUSeconds()
        control.phase.store(Phase.measure.rawValue, ordering: .relaxed)
        measureStart = monotonicNanos()
        let deadline = o.count == nil ? Double(measureStart) / 1e9 + o.duration : .infinity
        progress(label, phase: "measure", until: deadline, workers: workers, control: control, from: measureStart)
        let measureEnd = monotonicNanos()
        let serverCPU1 = serverPids.map { processCPUSeconds($0) ?? 0 }
        let clientCPU1 = selfCPUSeconds()
        control.phase.store(Phase.stop.rawValue, ordering: .relaxed)
        for t in threads { pthread_join(t, nil) }
        if !o.quiet { eprint("\r\u{1B}[K") }

        var histogram = workers[0].histogram
        for w in workers.dropFirst() { histogram.add(w.histogram) }
        let ops = workers.reduce(0) { $0 + $1.counters.ops.load(ordering: Synchronization.AtomicLoadOrdering.relaxed) }
        let errors = workers.reduce(0) { $0 + $1.counters.errors.load(ordering: Synchronization.AtomicLoadOrdering.relaxed) }
        let seconds = Double(measureEnd - measureStart) / 1e9
        let serverCPU = zip(serverCPU0, serverCPU1).reduce(0.0) { $0 + ($1.1 - $1.0) }
        let clientCPU = clientCPU1 - clientCPU0
        let result = RunResult(
            workload: workload.rawValue, routing: o.routing.rawValue, connections: o.connections, pipeline: o.pipeline, threads: threadCount,
            keys: o.keys, keySize: o.keySize, valueSize: o.valueSize, readRatio: workload == .mixed ? readRatio : nil,
            ops: ops, errors: errors, seconds: seconds, histogram: histogram,
            serverProcesses: serverPids.count, serverCPUSeconds: serverCPU, clientCPUSeconds: clientCPU,
            casHits: workers.reduce(0) { $0 + $1.casHits }, casMisses: workers.reduce(0) { $0 + $1.casMisses },
            firstError: workers.compactMap { (w: Worker) in w.firstError }.first, failure: workers.compactMap { (w: Worker) in w.failure }.first)
        let table = result.table()
        if o.json {
            eprint(table)
            print(result.json())
        } else {
            print(table, terminator: "")
        }
        if let f = result.failure { throw BenchError("a worker failed: \(f)") }
    }

    /// Sleeps until `until` (or until every worker finished), redrawing the progress line each second.
    private func progress(_ label: String, phase: String, until: Double, workers: [Worker], control: RunControl, from start: UInt64? = nil) {
        var lastOps = 0
        var lastT = Double(monotonicNanos()) / 1e9
        var nextDraw = lastT + 1
        while true {
            let t = Double(monotonicNanos()) / 1e9
            if t >= until || control.done.load(ordering: .relaxed) == workers.count { break }
            if t >= nextDraw {
                let ops = workers.reduce(0) { $0 + $1.counters.ops.load(ordering: Synchronization.AtomicLoadOrdering.relaxed) }
                let errors = workers.reduce(0) { $0 + $1.counters.errors.load(ordering: Synchronization.AtomicLoadOrdering.relaxed) }
                if !options.quiet {
                    let elapsed = start.map { t - Double($0) / 1e9 } ?? 0
                    let rate = Double(ops - lastOps) / (t - lastT)
                    eprint("\r\u{1B}[K\(label) \(phase) \(fmt(elapsed, 1))s  \(fmt(rate)) ops/s  total \(fmt(Double(ops)))  errors \(errors)")
                }
                lastOps = ops
                lastT = t
                nextDraw = t + 1
            }
            usleep(useconds_t(min(20_000, max(1000, Int((min(until, nextDraw) - t) * 1e6)))))
        }
    }

    private func fetchSlotMap(_ endpoints: [NodeAddress]) throws -> SlotMap {
        var lastError = ""
        for e in endpoints {
            do {
                let c = try RESPConnection(to: e)
                defer { c.close() }
                let map = try SlotMap(clusterSlots: try c.send([Array("CLUSTER".utf8), Array("SLOTS".utf8)]), answeredBy: e)
                if !map.isEmpty { return map }
            } catch {
                lastError = "\(error)"
            }
        }
        throw BenchError("no endpoint answered CLUSTER SLOTS (\(lastError))")
    }

    /// Writes every key once through pipelined connections (writes are forwarded as needed).
    private func preload(shape: RequestShape, endpoints: [NodeAddress]) throws {
        let started = monotonicNanos()
        let perConnection = 64
        let lanes = 16
        var fds: [Int32] = []
        for i in 0..<lanes { fds.append(try TCPSocket.connectedDescriptor(to: endpoints[i % endpoints.count], timeout: .seconds(10))) }
        defer { for fd in fds { close(fd) } }
        let pools = (0..<lanes).map { l in stride(from: l, to: shape.keyCount, by: lanes).map { Int32($0) } }
        let conns = zip(fds, pools).map { BenchConnection(fd: $0, keyPool: $1, pipeline: perConnection, seed: 1) }
        let put = RequestShape(workload: .put, keyCount: shape.keyCount, keySize: shape.keySize, valueSize: shape.valueSize, readRatio: 0)
        try Preloader(shape: put, connections: conns, depth: perConnection).run()
        if !options.quiet { eprint("preloaded \(shape.keyCount) keys in \(fmt(Double(monotonicNanos() - started) / 1e9, 1))s\n") }
    }
}

/// Writes each connection's keys once, `depth` requests in flight, with blocking waits.
struct Preloader {
    let shape: RequestShape
    let connections: [BenchConnection]
    let depth: Int

    func run() throws {
        let parser = RESPParser()
        for c in connections { _ = fcntl(c.fd, F_SETFL, fcntl(c.fd, F_GETFL) & ~O_NONBLOCK) }
        var next = [Int](repeating: 0, count: connections.count)
        var active = true
        while active {
            active = false
            for (i, c) in connections.enumerated() where next[i] < c.keyPool.count {
                active = true
                let upto = min(c.keyPool.count, next[i] + depth)
                c.sendBuffer.removeAll(keepingCapacity: true)
                for k in next[i]..<upto {
                    let key = Int(c.keyPool[k])
                    c.sendBuffer.append(contentsOf: shape.setHeader)
                    shape.keys.withUnsafeBufferPointer { b in c.sendBuffer.append(contentsOf: UnsafeBufferPointer(rebasing: b[(key * shape.keySize)..<((key + 1) * shape.keySize)])) }
                    c.sendBuffer.append(contentsOf: shape.valueHeader)
                    c.sendBuffer.append(contentsOf: shape.value)
                    c.sendBuffer.append(13); c.sendBuffer.append(10)
                }
                var off = 0
                try c.sendBuffer.withUnsafeBytes { b in
                    while off < b.count {
                        let n = write(c.fd, b.baseAddress! + off, b.count - off)
                        guard n > 0 else { throw BenchError("preload write failed") }
                        off += n
                    }
                }
                var replies = 0
                var end = 0, pos = 0
                while replies < upto - next[i] {
                    let n = c.receive.withUnsafeMutableBytes { read(c.fd, $0.baseAddress! + end, $0.count - end) }
                    guard n > 0 else { throw BenchError("preload: connection closed") }
                    end += n
                    try c.receive.withUnsafeBytes { b in
                        while let (e, _) = try parser.skipReply(b, from: pos, to: end) { pos = e; replies += 1 }
                    }
                }
                next[i] = upto
            }
        }
    }
}

final class ThreadBody {
    let run: () -> Void
    init(_ run: @escaping () -> Void) { self.run = run }
}

/// The outcome of one run, as a table and as JSON.
struct RunResult {
    let workload: String, routing: String
    let connections: Int, pipeline: Int, threads: Int
    let keys: Int, keySize: Int, valueSize: Int
    let readRatio: Double?
    let ops: Int, errors: Int
    let seconds: Double
    let histogram: Histogram<UInt64>
    let serverProcesses: Int
    let serverCPUSeconds: Double, clientCPUSeconds: Double
    let casHits: Int, casMisses: Int
    let firstError: String?, failure: String?

    var rate: Double { seconds > 0 ? Double(ops) / seconds : 0 }
    func percentile(_ p: Double) -> Double { histogram.totalCount == 0 ? 0 : Double(histogram.valueAtPercentile(p)) / 1000 }
    var serverMicrosPerOp: Double { ops > 0 ? serverCPUSeconds * 1e6 / Double(ops) : 0 }
    var clientMicrosPerOp: Double { ops > 0 ? clientCPUSeconds * 1e6 / Double(ops) : 0 }

    func table() -> String {
        var s = ""
        s += "workload     \(workload)\(readRatio.map { " (read ratio \($0))" } ?? "")   routing \(routing)\n"
        s += "clients      \(connections) connections x \(pipeline) in flight, \(threads) threads; \(fmt(Double(keys))) keys of \(keySize) B, values \(valueSize) B\n"
        s += "requests     \(fmt(Double(ops))) in \(fmt(seconds, 2)) s = \(fmt(rate)) req/s; errors \(errors)\(firstError.map { " (first: \($0))" } ?? "")\n"
        if casHits + casMisses > 0 { s += "cas          \(casHits) swapped, \(casMisses) not (value changed)\n" }
        s += "latency ms   p50 \(fmt(percentile(50), 3))  p90 \(fmt(percentile(90), 3))  p99 \(fmt(percentile(99), 3))  p99.9 \(fmt(percentile(99.9), 3))  max \(fmt(Double(histogram.max) / 1000, 3))  mean \(fmt(histogram.mean / 1000, 3))\n"
        s += "server CPU   \(fmt(serverCPUSeconds, 2)) s over \(serverProcesses) processes = \(fmt(serverMicrosPerOp, 1)) µs/op\n"
        s += "client CPU   \(fmt(clientCPUSeconds, 2)) s = \(fmt(clientMicrosPerOp, 2)) µs/op\n"
        return s
    }

    func json() -> String {
        func n(_ v: Double) -> String { v.isFinite ? String((v * 1000).rounded() / 1000) : "null" }
        func q(_ s: String) -> String {
            "\"" + s.unicodeScalars.map { c -> String in
                switch c {
                case "\"": return "\\\""
                case "\\": return "\\\\"
                case _ where c.value < 0x20: return " "
                default: return String(c)
                }
            }.joined() + "\""
        }
        var fields = [
            "\"workload\":\(q(workload))", "\"routing\":\(q(routing))", "\"connections\":\(connections)", "\"pipeline\":\(pipeline)",
            "\"threads\":\(threads)", "\"keys\":\(keys)", "\"key_size\":\(keySize)", "\"value_size\":\(valueSize)",
            "\"ops\":\(ops)", "\"errors\":\(errors)", "\"seconds\":\(n(seconds))", "\"ops_per_sec\":\(n(rate))",
            "\"latency_ms\":{\"p50\":\(n(percentile(50))),\"p90\":\(n(percentile(90))),\"p99\":\(n(percentile(99))),\"p999\":\(n(percentile(99.9))),\"max\":\(n(Double(histogram.max) / 1000)),\"mean\":\(n(histogram.mean / 1000))}",
            "\"server_processes\":\(serverProcesses)", "\"server_cpu_seconds\":\(n(serverCPUSeconds))",
            "\"server_cpu_us_per_op\":\(n(serverMicrosPerOp))", "\"client_cpu_seconds\":\(n(clientCPUSeconds))",
            "\"client_cpu_us_per_op\":\(n(clientMicrosPerOp))",
        ]
        if let readRatio { fields.append("\"read_ratio\":\(n(readRatio))") }
        if casHits + casMisses > 0 { fields.append("\"cas_swapped\":\(casHits)"); fields.append("\"cas_missed\":\(casMisses)") }
        if let firstError { fields.append("\"first_error\":\(q(firstError))") }
        return "{" + fields.joined(separator: ",") + "}"
    }
}
