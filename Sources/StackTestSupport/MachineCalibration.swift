import Foundation

/// What this machine's bcrypt takes right now, so that a test derives its loads, costs, N and
/// margins from the machine it runs on instead of the one it was written on.
public enum MachineCalibration {
    /// The median seconds of one hash at `cost` on one thread (`fullyloaded calibrate`).
    public static func singleHashSeconds(cost: Int, samples: Int = 9) throws -> Double {
        let run = try Command.run(try TestBinary.path, ["calibrate", "--cost", "\(cost)", "--samples", "\(samples)"])
        guard run.status == 0,
            let line = run.output.split(separator: "\n").last(where: { $0.hasPrefix("{") }),
            let json = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
            let seconds = json["median_seconds"] as? Double, seconds > 0
        else {
            throw TestStackError.notReady(log: "fullyloaded calibrate failed:\n\(run.output)")
        }
        return seconds
    }

    /// The lowest cost from `lowest` up whose single hash takes at least `seconds` here (bcrypt's
    /// time doubles per step), at most `highest`.
    public static func cost(takingAtLeast seconds: Double, from lowest: Int = 4, upTo highest: Int = 14) throws -> (
        cost: Int, seconds: Double
    ) {
        let base = try singleHashSeconds(cost: lowest)
        var cost = lowest
        var estimate = base
        while estimate < seconds && cost < highest {
            cost += 1
            estimate *= 2
        }
        return (cost, cost == lowest ? base : try singleHashSeconds(cost: cost, samples: 5))
    }
}
