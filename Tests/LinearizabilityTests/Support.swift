@testable import Linearizability

/// A compact way to write hand-made histories: `op(1, .set, args: ["v"], 0, 10, ok)`.
func op(_ client: Int, _ kind: HistoryOp.Kind, key: String = "k", args: [String] = [], _ invoke: Int64, _ complete: Int64?,
        _ result: HistoryOp.Value = .null, outcome: HistoryOp.Outcome = .ok) -> HistoryOp {
    HistoryOp(client: client, kind: kind, key: key, args: args, invoke: invoke, complete: complete,
              outcome: complete == nil && outcome == .ok ? .unknown : outcome, result: result)
}

let ok = HistoryOp.Value.string("OK")
func str(_ s: String) -> HistoryOp.Value { .string(s) }
func int(_ i: Int64) -> HistoryOp.Value { .integer(i) }

func verdict(_ ops: [HistoryOp], key: String = "k") -> KeyVerdict {
    LinearizabilityChecker.checkKey(key, ops)
}

func isViolation(_ v: KeyVerdict) -> Bool {
    if case .violation = v { return true }
    return false
}
