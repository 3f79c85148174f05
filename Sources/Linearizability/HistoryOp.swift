/// One client operation on one key, as recorded by a test runner.
///
/// Times are a monotonic clock in any unit (the runner writes nanoseconds); only their order
/// matters. An operation with an `unknown` outcome (timeout, lost connection, an error after which
/// the write may still commit) has no completion time: it may take effect at any point after its
/// invocation, or never.
public struct HistoryOp: Sendable, Equatable, Codable {
    public enum Kind: String, Sendable, Codable, CaseIterable {
        /// `GET key`: result is the value or nil.
        case get
        /// `SET key value`: result "OK".
        case set
        /// `SET key value NX`: result "OK" when set, nil when the key existed.
        case setNX = "set-nx"
        /// `SET key value IFEQ expected`: result "OK" when the current value equals `expected`
        /// (an absent key equals nothing), nil otherwise.
        case setIfEq = "set-ifeq"
        /// `DEL key`: result the number of keys removed (0 or 1).
        case del
        /// `INCR key`: result the new value; an absent key counts as 0.
        case incr
    }

    public enum Outcome: String, Sendable, Codable {
        /// The reply was received: the operation took effect once, with `result`.
        case ok
        /// The operation certainly did not take effect (e.g. refused before it was proposed).
        case fail
        /// The operation may or may not have taken effect; its result is not known.
        case unknown
    }

    /// A reply value: a bulk string, nil (null bulk), or an integer.
    public enum Value: Sendable, Hashable, CustomStringConvertible {
        case null
        case string(String)
        case integer(Int64)

        public var description: String {
            switch self {
            case .null: return "nil"
            case .string(let s): return "\"\(s)\""
            case .integer(let i): return String(i)
            }
        }
    }

    public var client: Int
    public var kind: Kind
    public var key: String
    /// `set`, `set-nx`: [value]; `set-ifeq`: [value, expected]; others: [].
    public var args: [String]
    public var invoke: Int64
    /// nil for `unknown` outcomes.
    public var complete: Int64?
    public var outcome: Outcome
    public var result: Value

    public init(client: Int, kind: Kind, key: String, args: [String] = [], invoke: Int64, complete: Int64?,
                outcome: Outcome, result: Value = .null) {
        self.client = client
        self.kind = kind
        self.key = key
        self.args = args
        self.invoke = invoke
        self.complete = complete
        self.outcome = outcome
        self.result = result
    }

    enum CodingKeys: String, CodingKey { case client, op, key, args, invoke, complete, outcome, result }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        client = try c.decode(Int.self, forKey: .client)
        kind = try c.decode(Kind.self, forKey: .op)
        key = try c.decode(String.self, forKey: .key)
        args = try c.decodeIfPresent([String].self, forKey: .args) ?? []
        invoke = try c.decode(Int64.self, forKey: .invoke)
        complete = try c.decodeIfPresent(Int64.self, forKey: .complete)
        outcome = try c.decode(Outcome.self, forKey: .outcome)
        if try !c.contains(.result) || c.decodeNil(forKey: .result) {
            result = .null
        } else if let i = try? c.decode(Int64.self, forKey: .result) {
            result = .integer(i)
        } else {
            result = .string(try c.decode(String.self, forKey: .result))
        }
        let expectedArgs = kind == .setIfEq ? 2 : (kind == .set || kind == .setNX ? 1 : 0)
        guard args.count == expectedArgs else {
            throw DecodingError.dataCorruptedError(forKey: .args, in: c, debugDescription: "\(kind.rawValue) takes \(expectedArgs) argument(s), got \(args.count)")
        }
        if outcome == .ok, complete == nil {
            throw DecodingError.dataCorruptedError(forKey: .complete, in: c, debugDescription: "an ok operation needs a completion time")
        }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(client, forKey: .client)
        try c.encode(kind, forKey: .op)
        try c.encode(key, forKey: .key)
        try c.encode(args, forKey: .args)
        try c.encode(invoke, forKey: .invoke)
        try c.encodeIfPresent(complete, forKey: .complete)
        try c.encode(outcome, forKey: .outcome)
        switch result {
        case .null: try c.encodeNil(forKey: .result)
        case .string(let s): try c.encode(s, forKey: .result)
        case .integer(let i): try c.encode(i, forKey: .result)
        }
    }
}

extension HistoryOp: CustomStringConvertible {
    public var description: String {
        let argText = args.isEmpty ? "" : " " + args.joined(separator: " ")
        let end = complete.map(String.init) ?? "∞"
        let res = outcome == .ok ? " -> \(result)" : " (\(outcome.rawValue))"
        return "client \(client) \(kind.rawValue) \(key)\(argText)\(res) [\(invoke), \(end)]"
    }
}
