import Foundation
import Linearizability

/// What a run found, as JSON for machines and a line for people.
struct Summary {
    let history: [HistoryOp]
    let verdicts: [String: KeyVerdict]
    let faults: [FaultEvent]
    let healthyAtEnd: Bool
    let loadSeconds: Double
    let checkSeconds: Double
    let settings: [String: Any]

    /// linearizable, violation, or unknown (a key's check hit its bound).
    var verdict: String {
        if verdicts.values.contains(where: { if case .violation = $0 { true } else { false } }) { return "violation" }
        if verdicts.values.contains(where: { if case .unknown = $0 { true } else { false } }) { return "unknown" }
        return "linearizable"
    }

    var violations: [String] {
        verdicts.sorted { $0.key < $1.key }.compactMap { _, v in
            if case .violation(let detail) = v { return detail.description }
            return nil
        }
    }

    func count(_ outcome: HistoryOp.Outcome) -> Int { history.filter { $0.outcome == outcome }.count }

    var faultCounts: [String: Int] {
        var counts: [String: Int] = [:]
        for f in faults { counts[f.kind.rawValue, default: 0] += 1 }
        return counts
    }

    var oneLine: String {
        let faultText = faultCounts.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
        return "verdict: \(verdict); \(history.count) operations (\(count(.ok)) ok, \(count(.fail)) failed, \(count(.unknown)) unknown) "
            + "in \(Int(loadSeconds)) s; faults: \(faultText.isEmpty ? "none" : faultText); "
            + "keys: \(verdicts.values.filter { $0 == .linearizable }.count)/\(verdicts.count) linearizable; checked in \(String(format: "%.1f", checkSeconds)) s"
    }

    func json() throws -> String {
        var byKind: [String: [String: Int]] = [:]
        for op in history { byKind[op.kind.rawValue, default: [:]][op.outcome.rawValue, default: 0] += 1 }
        var keys: [String: Any] = [:]
        for (key, v) in verdicts {
            var entry: [String: Any] = ["verdict": v.name, "operations": history.filter { $0.key == key }.count]
            switch v {
            case .violation(let detail):
                entry["unorderable"] = detail.unorderable.map(\.description)
                entry["longest_prefix"] = detail.longestPrefix.count
            case .unknown(let reason): entry["reason"] = reason
            case .linearizable: break
            }
            keys[key] = entry
        }
        let object: [String: Any] = [
            "verdict": verdict,
            "settings": settings,
            "operations": ["total": history.count, "ok": count(.ok), "failed": count(.fail), "unknown": count(.unknown), "by_op": byKind],
            "faults": ["total": faults.count, "by_kind": faultCounts,
                       "events": faults.map { ["kind": $0.kind.rawValue, "nodes": $0.nodes, "start_s": round($0.start * 10) / 10, "end_s": round($0.end * 10) / 10] }],
            "keys": keys,
            "healthy_at_end": healthyAtEnd,
            "load_seconds": round(loadSeconds * 10) / 10,
            "check_seconds": round(checkSeconds * 10) / 10,
        ]
        let data = try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys])
        return String(decoding: data, as: UTF8.self) + "\n"
    }
}
