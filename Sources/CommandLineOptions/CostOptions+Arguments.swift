extension CostOptions {
    /// The command line that parses back to these options.
    public var arguments: [String] {
        var line = ArgumentLine()
        line.option("cost", cost)
        line.option("min-cost", minCost)
        line.option("max-cost", maxCost)
        line.option("pepper-file", pepperFile)
        line.option("algorithm", algorithm.rawValue)
        line.option("argon2-memory", argon2Memory)
        line.option("argon2-passes", argon2Passes)
        line.option("argon2-lanes", argon2Lanes)
        return line.words
    }
}
