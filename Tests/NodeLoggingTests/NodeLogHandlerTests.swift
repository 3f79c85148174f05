import Foundation
import Logging
import NodeLogging
import Synchronization
import Testing

/// Lines captured from a handler instead of a file descriptor.
private final class Captured: Sendable {
    let lines = Mutex<[String]>([])
    var sink: LogSink { LogSink { [self] line in lines.withLock { $0.append(line) } } }
    var all: [String] { lines.withLock { $0 } }
}

private func logger(_ captured: Captured, level: Logger.Level, format: LogFormat) -> Logger {
    Logger(label: "mystore.raft") { label in
        NodeLogHandler(label: label, level: level, format: format, node: "127.0.0.1:7001", sink: captured.sink)
    }
}

@Suite struct NodeLogHandlerTests {
    @Test func jsonLinesParseWithTheirFields() throws {
        let captured = Captured()
        var log = logger(captured, level: .info, format: .json)
        log[metadataKey: "component"] = "host"
        log.info("group 3: node \"b\" is the leader\nnext line", metadata: ["group": .stringConvertible(UInt64(3)), "term": "7", "message": "clash"])
        log.warning("slow fdatasync", metadata: ["milliseconds": .stringConvertible(250), "tags": ["a", "b"], "nested": ["k": "v"]])
        let lines = captured.all
        #expect(lines.count == 2)
        for line in lines { #expect(line.hasSuffix("}\n") && line.filter { $0 == "\n" }.count == 1, "one object per line: \(line)") }
        let first = try #require(JSONSerialization.jsonObject(with: Data(lines[0].utf8)) as? [String: Any])
        #expect(first["level"] as? String == "info")
        #expect(first["node"] as? String == "127.0.0.1:7001")
        #expect(first["logger"] as? String == "raft")
        #expect(first["message"] as? String == "group 3: node \"b\" is the leader\nnext line")
        #expect(first["group"] as? Int == 3, "integers stay numbers")
        #expect(first["term"] as? String == "7")
        #expect(first["component"] as? String == "host")
        #expect(first["_message"] as? String == "clash", "a metadata key named like a fixed field does not replace it")
        let stamp = try #require(first["timestamp"] as? String)
        #expect(stamp.count == 24 && stamp.hasSuffix("Z"), "RFC 3339 UTC with milliseconds: \(stamp)")
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        let when = try #require(formatter.date(from: stamp))
        #expect(abs(when.timeIntervalSinceNow) < 60)
        let second = try #require(JSONSerialization.jsonObject(with: Data(lines[1].utf8)) as? [String: Any])
        #expect(second["level"] as? String == "warning")
        #expect(second["milliseconds"] as? Int == 250)
        #expect(second["tags"] as? [String] == ["a", "b"])
        #expect((second["nested"] as? [String: String]) == ["k": "v"])
    }

    @Test func controlCharactersAreEscaped() throws {
        let captured = Captured()
        logger(captured, level: .info, format: .json).info("bell \u{7} tab \t quote \" backslash \\ é")
        let object = try #require(JSONSerialization.jsonObject(with: Data(captured.all[0].utf8)) as? [String: Any])
        #expect(object["message"] as? String == "bell \u{7} tab \t quote \" backslash \\ é")
    }

    @Test func levelsFilterWhatIsLogged() {
        let captured = Captured()
        let log = logger(captured, level: .warning, format: .text)
        log.trace("t"); log.debug("d"); log.info("i"); log.notice("n")
        log.warning("w"); log.error("e"); log.critical("c")
        let levels = captured.all.map { $0.split(separator: " ")[1] }
        #expect(levels == ["warning", "error", "critical"])
    }

    @Test func textLinesCarryTimeLevelLoggerAndSortedMetadata() {
        let captured = Captured()
        logger(captured, level: .info, format: .text).info("hello", metadata: ["z": "1", "a": "two words"])
        let line = captured.all[0]
        let parts = line.split(separator: " ", maxSplits: 3).map(String.init)
        #expect(parts[1] == "info" && parts[2] == "raft:")
        #expect(parts[3] == "hello a=\"two words\" z=1\n")
    }

    @Test func levelNamesParse() {
        #expect(Logger.Level(name: "WARNING") == .warning)
        #expect(Logger.Level(name: "trace") == .trace)
        #expect(Logger.Level(name: "verbose") == nil)
    }
}

@Suite struct LogRateLimiterTests {
    @Test func aBurstPassesThenTheRestIsCountedAndReported() {
        let now = Mutex(0.0)
        let limiter = LogRateLimiter(burst: 3, interval: 10, clock: { now.withLock { $0 } })
        let first = (0..<10).map { _ in limiter.admit("k").log }
        #expect(first == [true, true, true] + Array(repeating: false, count: 7))
        #expect(limiter.admit("other").log, "keys are limited apart")
        now.withLock { $0 = 10.5 }
        let next = limiter.admit("k")
        #expect(next.log && next.suppressed == 7, "the first line after the window says how many were held back")
        #expect(limiter.admit("k") == (true, 0))
    }

    @Test func limitedLoggingAddsTheSuppressedCount() {
        let captured = Captured()
        let log = logger(captured, level: .info, format: .text)
        let now = Mutex(0.0)
        let limiter = LogRateLimiter(burst: 1, interval: 5, clock: { now.withLock { $0 } })
        for _ in 0..<4 { log.limited(limiter, key: "x", .warning, "refused") }
        log.limited(limiter, key: "y", .debug, "below the level is never counted")
        now.withLock { $0 = 6 }
        log.limited(limiter, key: "x", .warning, "refused")
        #expect(captured.all.count == 2)
        #expect(captured.all[1].contains("suppressed=3"))
    }
}
