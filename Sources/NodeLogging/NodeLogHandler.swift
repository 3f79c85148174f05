import Logging
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// How a log line is written (`log_format`).
public enum LogFormat: String, Sendable, CaseIterable {
    /// `2026-12-03T18:40:01.123Z info raft: message key=value ...`, for people.
    case text
    /// One JSON object per line, for log collectors: `timestamp`, `level`, `node`, `logger`,
    /// `message`, then every metadata key (`group`, `shard`, `peer`, ...).
    case json
}

/// Where log lines go. Lines are written unbuffered: a node's output goes to log files, and a
/// line must be there when the operator looks, even if the process is killed right after.
public struct LogSink: Sendable {
    /// Writes one line, its newline included.
    public let write: @Sendable (String) -> Void

    public init(_ write: @escaping @Sendable (String) -> Void) { self.write = write }

    /// Lines written straight to a file descriptor (no buffering in between).
    public static func descriptor(_ fd: Int32) -> LogSink {
        LogSink { text in writeAll(text, to: fd) }
    }

    public static let standardOutput = descriptor(1)
    public static let standardError = descriptor(2)
}

/// Writes all of `text` to `fd`, retrying short and interrupted writes; gives up silently on
/// another error (there is nowhere left to report it).
public func writeAll(_ text: String, to fd: Int32) {
    var bytes = Array(text.utf8)[...]
    while !bytes.isEmpty {
        let written = bytes.withUnsafeBytes { raw in
            #if canImport(Glibc)
            Glibc.write(fd, raw.baseAddress, raw.count)
            #else
            Darwin.write(fd, raw.baseAddress, raw.count)
            #endif
        }
        if written < 0 {
            if errno == EINTR { continue }
            return
        }
        bytes = bytes.dropFirst(written)
    }
}

/// The project's swift-log handler: one line per event, as text or JSON, with the node's
/// address on every JSON line. `mystore-server` installs it with `log_level` and `log_format`;
/// the CLI and tools install it on standard error.
public struct NodeLogHandler: LogHandler {
    public var logLevel: Logger.Level
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?
    /// The logger's label without the `mystore.` prefix: `server`, `raft`, `peer`, ...
    public let label: String
    public let format: LogFormat
    /// The node's address (JSON `node`), or nil for programs that are not a node.
    public let node: String?
    public let sink: LogSink

    public init(label: String, level: Logger.Level, format: LogFormat, node: String?, sink: LogSink) {
        self.label = label.hasPrefix("mystore.") ? String(label.dropFirst("mystore.".count)) : label
        self.logLevel = level
        self.format = format
        self.node = node
        self.sink = sink
    }

    /// Makes every `Logger` of this process use this handler. Call once, before logging.
    public static func bootstrap(level: Logger.Level, format: LogFormat, node: String?, sink: LogSink = .standardOutput) {
        LoggingSystem.bootstrap { label in
            NodeLogHandler(label: label, level: level, format: format, node: node, sink: sink)
        }
        installed.store(true, ordering: .releasing)
    }

    private static let installed = Atomic<Bool>(false)

    /// A logger for the project's own code: this handler once `bootstrap` ran, else one that
    /// drops everything, so code run inside another program (the tests) stays quiet unless
    /// that program chose where logs go.
    public static func logger(_ label: String) -> Logger {
        installed.load(ordering: .acquiring) ? Logger(label: label) : Logger(label: label) { _ in SwiftLogNoOpLogHandler() }
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var all = metadata
        if let provided = metadataProvider?.get() { all.merge(provided) { _, new in new } }
        if let extra = event.metadata { all.merge(extra) { _, new in new } }
        if let error = event.error { all["error"] = .string("\(error)") }
        let time = Self.timestamp()
        switch format {
        case .text: sink.write(Self.textLine(time: time, level: event.level, label: label, message: "\(event.message)", metadata: all))
        case .json: sink.write(Self.jsonLine(time: time, level: event.level, node: node, label: label, message: "\(event.message)", metadata: all))
        }
    }

    /// `time level label: message key=value ...`; metadata sorted by key.
    static func textLine(time: String, level: Logger.Level, label: String, message: String, metadata: Logger.Metadata) -> String {
        var line = "\(time) \(level) \(label): \(message)"
        for key in metadata.keys.sorted() {
            line += " \(key)=\(textValue(metadata[key]!))"
        }
        return line + "\n"
    }

    private static func textValue(_ value: Logger.Metadata.Value) -> String {
        switch value {
        case .string(let s):
            return s.contains(where: { $0 == " " || $0 == "\"" || $0 == "=" }) || s.isEmpty ? jsonString(s) : s
        case .stringConvertible(let c): return textValue(.string(c.description))
        case .array(let a): return "[" + a.map(textValue).joined(separator: ",") + "]"
        case .dictionary(let d): return "{" + d.keys.sorted().map { "\($0)=\(textValue(d[$0]!))" }.joined(separator: ",") + "}"
        }
    }

    /// The fixed keys of every JSON line; a metadata key with one of these names is written
    /// with a leading underscore instead of replacing it.
    static let reservedKeys: Set<String> = ["timestamp", "level", "node", "logger", "message"]

    static func jsonLine(time: String, level: Logger.Level, node: String?, label: String, message: String, metadata: Logger.Metadata) -> String {
        var line = "{\"timestamp\":\"\(time)\",\"level\":\"\(level)\""
        if let node { line += ",\"node\":" + jsonString(node) }
        line += ",\"logger\":" + jsonString(label) + ",\"message\":" + jsonString(message)
        for key in metadata.keys.sorted() {
            let name = reservedKeys.contains(key) ? "_" + key : key
            line += "," + jsonString(name) + ":" + jsonValue(metadata[key]!)
        }
        return line + "}\n"
    }

    private static func jsonValue(_ value: Logger.Metadata.Value) -> String {
        switch value {
        case .string(let s): return jsonString(s)
        case .stringConvertible(let c):
            // Integers stay numbers (group ids, terms, sizes), so collectors can compare them.
            if c is any BinaryInteger { return c.description }
            return jsonString(c.description)
        case .array(let a): return "[" + a.map(jsonValue).joined(separator: ",") + "]"
        case .dictionary(let d): return "{" + d.keys.sorted().map { jsonString($0) + ":" + jsonValue(d[$0]!) }.joined(separator: ",") + "}"
        }
    }

    /// `s` as a JSON string literal (RFC 8259 escapes; other characters as they are, UTF-8).
    static func jsonString(_ s: String) -> String {
        var out = "\""
        out.reserveCapacity(s.utf8.count + 2)
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }

    /// The wall-clock time as RFC 3339 in UTC with milliseconds: `2026-12-03T18:40:01.123Z`.
    static func timestamp() -> String {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        var seconds = now.tv_sec
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func two(_ v: Int32) -> String { v < 10 ? "0\(v)" : "\(v)" }
        let millis = Int(now.tv_nsec) / 1_000_000
        let ms = millis < 10 ? "00\(millis)" : millis < 100 ? "0\(millis)" : "\(millis)"
        return "\(parts.tm_year + 1900)-\(two(parts.tm_mon + 1))-\(two(parts.tm_mday))T\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec)).\(ms)Z"
    }
}

extension Logger.Level {
    /// Parses `trace`, `debug`, `info`, `notice`, `warning`, `error` or `critical`.
    public init?(name: String) {
        self.init(rawValue: name.lowercased())
    }
}
