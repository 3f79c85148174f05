/// The sequential specification of one key: its state is the current value, nil when absent.
enum KeyModel {
    /// Applies `op` to `state`. Returns the new state, or nil when `op` with its recorded result
    /// cannot happen in `state`. An operation whose outcome is unknown accepts any result.
    static func step(_ state: String?, _ op: HistoryOp) -> String?? {
        let known = op.outcome == .ok
        switch op.kind {
        case .get:
            guard !known || op.result == (state.map(HistoryOp.Value.string) ?? .null) else { return nil }
            return .some(state)
        case .set:
            return .some(op.args[0])
        case .setNX:
            let applies = state == nil
            guard !known || op.result == (applies ? .string("OK") : .null) else { return nil }
            return .some(applies ? op.args[0] : state)
        case .setIfEq:
            let applies = state == op.args[1]
            guard !known || op.result == (applies ? .string("OK") : .null) else { return nil }
            return .some(applies ? op.args[0] : state)
        case .del:
            guard !known || op.result == .integer(state == nil ? 0 : 1) else { return nil }
            return .some(nil)
        case .incr:
            // A non-integer value makes INCR an error without effect; such a reply is recorded
            // as `fail`, so a known INCR needs an integer (or absent) value.
            let parsed: Int64? = state == nil ? 0 : Int64(state!)
            guard let current = parsed, current < Int64.max else {
                return known ? nil : .some(state)
            }
            guard !known || op.result == .integer(current + 1) else { return nil }
            return .some(String(current + 1))
        }
    }
}
