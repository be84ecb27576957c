extension AdmissionOptions {
    /// The command line that parses back to these options.
    public var arguments: [String] {
        var line = ArgumentLine()
        line.option("deadline", deadline)
        line.option("compute-slots", computeSlots)
        line.option("headroom", headroom)
        line.option("estimate-seconds", estimateSeconds)
        line.option("compute-niceness", computeNiceness)
        line.option("refusal-rate", refusalRate)
        line.option("fairness", fairness.rawValue)
        line.option("lanes", lanes)
        line.option("hash-memory", hashMemory)
        return line.words
    }
}
