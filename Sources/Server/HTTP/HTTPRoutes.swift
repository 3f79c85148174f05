import NIOConcurrencyHelpers
import NIOHTTP1

/// One HTTP reply, before framing.
struct HTTPReply: Sendable {
    var status: HTTPResponseStatus
    var contentType: String
    var body: [UInt8]

    init(_ status: HTTPResponseStatus, contentType: String = "application/json", _ body: [UInt8]) {
        self.status = status
        self.contentType = contentType
        self.body = body
    }

    init(_ status: HTTPResponseStatus, json: String) { self.init(status, Array(json.utf8)) }
}

/// What the HTTP endpoint serves: `/health`, `/status` and `/metrics`, GET only. The sources
/// are closures so the routes can be tested without a running node.
struct HTTPRoutes: Sendable {
    var health: @Sendable () -> NodeHealth
    /// The JSON of `MYSTORE.STATUS`.
    var status: @Sendable () -> String
    /// Prometheus text exposition.
    var metrics: @Sendable () -> [UInt8]

    static let prometheusContentType = "text/plain; version=0.0.4; charset=utf-8"

    /// The reply to `method` on `uri` (a query string is ignored).
    func reply(method: HTTPMethod, uri: String) -> HTTPReply {
        let path = uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
        guard ["/health", "/status", "/metrics"].contains(path) else {
            return HTTPReply(.notFound, json: "{\"error\":\"not found; try /health, /status or /metrics\"}")
        }
        guard method == .GET else {
            return HTTPReply(.methodNotAllowed, json: "{\"error\":\"method not allowed; use GET\"}")
        }
        switch path {
        case "/health":
            let h = health()
            return HTTPReply(h.isHealthy ? .ok : .serviceUnavailable, json: h.json)
        case "/status":
            return HTTPReply(.ok, json: status())
        default:
            return HTTPReply(.ok, contentType: Self.prometheusContentType, metrics())
        }
    }
}

extension HTTPRoutes {
    /// The routes of a running node. `hostRunning` is true between the Raft host's start and stop.
    static func node(_ node: ClusterNode, router: CommandRouter, metrics: NodeMetrics,
                     hostRunning: NIOLockedValueBox<Bool>) -> HTTPRoutes {
        HTTPRoutes(
            health: { NodeHealth.evaluate(hostRunning: hostRunning.withLockedValue { $0 }, statuses: node.host.status()) },
            status: { router.statusJSON() },
            metrics: { metrics.render(shards: NodeMetrics.samples(node.host.status()), activity: node.host.activitySnapshot()) }
        )
    }
}
