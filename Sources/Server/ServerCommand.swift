import Logging
import ArgumentParser
import MultiRaft
import NodeLogging
import SystemClock
import Dispatch
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import ShardRouter
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `mystore-server`: runs one MyStore node.
struct ServerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mystore-server",
        abstract: "Run one MyStore node.",
        discussion: """
        Settings come from the config file, then MYSTORE_<SETTING> environment variables, \
        then --set flags; a later source wins. See config/mystore.conf for every setting.
        """,
        version: ServerIdentity.version
    )

    @Option(name: .customLong("self"), help: ArgumentHelp("This node's membership line, as written there (an address or a name): its identity and the address it advertises; it listens there unless `bind` is set.", valueName: "host:port"))
    var selfAddress: String

    @Option(help: ArgumentHelp("The cluster's membership file: one host:port per line.", valueName: "path"))
    var membership = "cluster.membership"

    @Option(help: ArgumentHelp("Config file (default: \(StartupPlan.defaultConfigPath), if present).", valueName: "path"))
    var config: String?

    @Option(name: .customLong("data-dir"), help: ArgumentHelp("Data directory (overrides data_dir; default data/<host>_<port>).", valueName: "dir"))
    var dataDir: String?

    @Option(help: ArgumentHelp("Join a running cluster through this member (then run `mystore node add` for this node).", valueName: "host:port"))
    var join: String?

    @Option(name: .customLong("set"), help: ArgumentHelp("Override one setting; repeatable.", valueName: "key=value"))
    var overrides: [String] = []

    /// Fault testing only: deliberate bugs (see `PlantedBugs`). Hidden from --help on purpose.
    @Option(name: .customLong("unsafe-planted-bug"), help: ArgumentHelp(visibility: .hidden))
    var plantedBugNames: [String] = []

    mutating func run() async throws {
        try await start()
    }

    /// Validates the setup, then serves until SIGINT or SIGTERM. (Named apart from `run()`
    /// so a caller cannot pick the synchronous `run()` by overload resolution.)
    func start() async throws {
        var joinAddress: NodeAddress?
        if let join {
            do { joinAddress = try NodeAddress(parsing: join) } catch { throw StartupError("--join: \(error)") }
        }
        let makePlan = { (joining: Bool) throws(StartupError) -> StartupPlan in
            try StartupPlan.make(
                selfAddress: selfAddress,
                membershipPath: membership,
                configPath: config,
                dataDirectoryFlag: dataDir,
                overrides: overrides,
                environment: ProcessInfoEnvironment.current(),
                joining: joining
            )
        }
        var plan: StartupPlan
        do {
            plan = try makePlan(joinAddress != nil)
        } catch {
            // A node that joined after bootstrap is not in the membership file: its data
            // directory's identity says which cluster it belongs to.
            guard let relaxed = try? makePlan(true), let id = try? NodeIdentity.read(directory: relaxed.dataDirectory), id.bootstrap != nil else {
                throw error
            }
            plan = relaxed
        }
        NodeLogHandler.bootstrap(level: plan.config.logLevel, format: plan.config.logFormat, node: plan.selfAddress.description)
        let plantedBugs = try PlantedBugs(names: plantedBugNames)
        plan.plantedBugs = plantedBugs
        if !plantedBugs.isEmpty {
            writeAll(plantedBugs.warning + "\n", to: 2)
            Logs.server.critical("\(plantedBugs.warning)")
        }
        try LocalFiles.prepareDirectory(plan.dataDirectory, what: "data directory")
        let existing = try NodeIdentity.read(directory: plan.dataDirectory)
        var joined: JoinInfo?
        if let b = existing?.bootstrap {
            plan = try plan.rebased(on: b)
        } else if existing == nil, let joinAddress {
            let info = try JoinInfo.waitForRegistration(of: plan.selfAddress, via: joinAddress)
            plan = try plan.rebased(on: info.bootstrap)
            joined = info
        }
        let identity = try NodeIdentity.establish(plan: plan, existing: existing, joined: joined)
        try await serve(plan, identity: identity)
    }

    private func serve(_ plan: StartupPlan, identity nodeIdentity: NodeIdentity) async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: plan.config.ioThreads > 0 ? plan.config.ioThreads : System.coreCount)
        let identity = ServerIdentity(
            address: plan.selfAddress.description,
            clusterSize: plan.membership.count,
            processID: getpid(),
            maxClients: plan.config.maxConnections
        )
        let node: ClusterNode
        do {
            node = try ClusterNode(plan: plan, identity: nodeIdentity, eventLoops: group)
        } catch {
            try? await group.shutdownGracefully()
            throw error
        }
        let router = CommandRouter(node: node, config: plan.config, loop: group.next(), plantedBugs: plan.plantedBugs)
        node.transport.onForward = { [router] args, hops, budget, reply in
            var session = RouteSession()
            router.execute(args, session: &session, hops: hops, budgetMillis: budget) { value in
                var buffer = ByteBuffer()
                buffer.writeRESPValue(value)
                reply(Array(buffer.readableBytesView))
            }
        }
        let listener: RESPListener
        do {
            listener = try await RESPListener.start(
                host: plan.listenHost,
                port: Int(plan.selfAddress.port),
                identity: identity,
                limits: RESPLimits(plan.config),
                maxConnections: plan.config.maxConnections,
                group: group,
                router: router
            )
        } catch {
            try? await group.shutdownGracefully()
            throw StartupError("cannot listen on \(Self.listenText(plan, port: Int(plan.selfAddress.port))): \(Self.describe(error))")
        }
        do {
            try await node.start()
        } catch {
            listener.channel.close(promise: nil)
            try? await group.shutdownGracefully()
            let peerPort = Int(plan.selfAddress.port) + plan.config.peerPortOffset
            throw StartupError("cannot listen on peer port \(Self.listenText(plan, port: peerPort)): \(Self.describe(error))")
        }
        let hostRunning = NIOLockedValueBox(true)
        var http: HTTPListener?
        let httpPort = Int(plan.selfAddress.port) + plan.config.httpPortOffset
        if plan.config.httpPortOffset > 0 {
            NodeMetrics.shared.bootstrapGlobalSystem()
            let routes = HTTPRoutes.node(node, router: router, metrics: .shared, hostRunning: hostRunning)
            do {
                guard httpPort <= 65_535 else { throw StartupError("port out of range (client port + http_port_offset > 65535)") }
                http = try await HTTPListener.start(host: plan.listenHost, port: httpPort, routes: routes, group: group)
            } catch {
                listener.channel.close(promise: nil)
                node.stop()
                try? await group.shutdownGracefully()
                throw StartupError("cannot listen on HTTP port \(Self.listenText(plan, port: httpPort)): \(Self.describe(error))")
            }
        }

        let stopping = NIOLockedValueBox(false)
        let signals = SignalWatcher(signals: [SIGINT, SIGTERM]) { signal in
            let name = signal == SIGINT ? "SIGINT" : "SIGTERM"
            if stopping.withLockedValue({ s in defer { s = true }; return s }) {
                Logs.server.notice("received \(name) again, exiting at once")
                Glibc.exit(1)
            }
            Logs.server.notice("received \(name), stopping gracefully (within shutdown_timeout_ms = \(plan.config.shutdownTimeoutMilliseconds))")
            listener.channel.close(promise: nil)
        }
        let httpNote = http == nil ? "" : ", HTTP on port \(httpPort)"
        let listenNote = listener.channel.localAddress.map { " on \($0.ipAddress ?? plan.listenHost)" } ?? ""
        Logs.server.notice("mystore-server \(ServerIdentity.version): node \(plan.selfAddress) serving RESP\(listenNote)\(httpNote), cluster of \(plan.membership.count), \(plan.shardMap.shards.count) shards, data in \(plan.dataDirectory), allocator \(Allocator.name)")

        try? await listener.channel.closeFuture.get()
        await Self.handOver(node.host, timeoutMillis: plan.config.shutdownTimeoutMilliseconds) {
            // Leaderships are elsewhere now: each client connection finishes the requests it
            // sent and closes, so its client reconnects to a node that stays.
            listener.connections.quiesceAll()
        } openConnections: {
            listener.connections.openCount
        }
        signals.cancel()
        try? await http?.channel.close()
        hostRunning.withLockedValue { $0 = false }
        node.stop()
        try? await group.shutdownGracefully()
        Logs.server.notice("stopped")
    }

    /// The graceful part of a stop, once no new client is accepted: hands every leadership this
    /// node holds to another replica (asking again every half second, as a transfer to a
    /// lagging replica may be abandoned; none is taken back meanwhile), then has every client
    /// connection finish its requests and close, all within `timeoutMillis`.
    static func handOver(_ host: RaftHost, timeoutMillis: Int, thenQuiesce quiesce: @Sendable () -> Void = {},
                         openConnections: @Sendable () -> Int = { 0 }) async {
        let deadline = monotonicSeconds() + Double(timeoutMillis) / 1000
        var nextAsk = 0.0
        // Only a group with another voter can be handed over (a one-replica shard cannot).
        let handable: @Sendable () -> Int = { host.status().filter { $0.role == .leader && $0.voters.count > 1 }.count }
        // Asked once even when nothing is led: from now on this node takes no leadership back.
        host.transferLeadershipsAway()
        nextAsk = monotonicSeconds() + 0.5
        var led = handable()
        let ledAtStart = led
        while led > 0 && monotonicSeconds() < deadline {
            if monotonicSeconds() >= nextAsk {
                host.transferLeadershipsAway()
                nextAsk = monotonicSeconds() + 0.5
            }
            try? await Task.sleep(for: .milliseconds(20))
            led = handable()
        }
        quiesce()
        // Every connection finishes and closes (its last replies flushed), within the deadline.
        while (requestsInFlight.load(ordering: .relaxed) > 0 || openConnections() > 0) && monotonicSeconds() < deadline {
            try? await Task.sleep(for: .milliseconds(10))
        }
        let inFlight = requestsInFlight.load(ordering: .relaxed)
        let text = "handed over \(ledAtStart - led) of \(ledAtStart) leaderships"
            + (led > 0 ? " (\(led) still led at the timeout)" : "") + (inFlight > 0 ? ", \(inFlight) requests unanswered" : "")
        Logs.server.notice("\(text)")
    }

    /// Where a listener was to bind, for errors: `host:port`, and where the host came from.
    static func listenText(_ plan: StartupPlan, port: Int) -> String {
        let host = plan.listenHost.contains(":") ? "[\(plan.listenHost)]" : plan.listenHost
        return "\(host):\(port) (" + (plan.config.bind != nil ? "the bind setting" : "the host of --self \(plan.selfAddress); set bind to listen elsewhere") + ")"
    }

    /// A bind or resolution error as the operator should read it.
    static func describe(_ error: any Error) -> String {
        if let unknown = error as? SocketAddressError.UnknownHost {
            return "cannot resolve host \"\(unknown.host)\": \(unknown.errorDescription)"
        }
        var text = Logs.describe(error)
        if let ioError = error as? IOError {
            if ioError.errnoCode == EADDRINUSE { text += " (is another mystore-server or program using this port?)" }
            if ioError.errnoCode == EADDRNOTAVAIL { text += " (the host is not an address of this machine)" }
        }
        return text
    }
}

/// Runs a handler on the given signals instead of the default (terminate), until cancelled.
/// Unchecked: the sources are set up once in `init`, and dispatch sources are thread-safe.
final class SignalWatcher: @unchecked Sendable {
    private let sources: [any DispatchSourceSignal]

    init(signals: [Int32], handler: @escaping @Sendable (Int32) -> Void) {
        sources = signals.map { number in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { handler(number) }
            source.resume()
            return source
        }
    }

    func cancel() {
        for source in sources { source.cancel() }
    }
}

/// The process environment as a dictionary.
enum ProcessInfoEnvironment {
    static func current() -> [String: String] {
        var result: [String: String] = [:]
        var pointer = environ
        while let entry = pointer.pointee {
            let text = String(cString: entry)
            if let equals = text.firstIndex(of: "=") {
                result[String(text[..<equals])] = String(text[text.index(after: equals)...])
            }
            pointer += 1
        }
        return result
    }
}
