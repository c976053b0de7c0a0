/// The charts of one selection run, driven by its ``Diagnostics`` alone: the objective trace (its
/// axis titles from `objectiveLabel` and `stepLabel`), and the named series grouped by their step
/// ("pullsPerRound" and "acceptedPullsPerRound" share one chart of rounds). A new selector's trace
/// and series appear without any change here.
enum RunCharts {
    static func charts(_ info: SubsetInfo, color: String) -> [RenderedChart] {
        let diagnostics = info.diagnostics
        var charts: [RenderedChart] = []
        let subsetData: [(String, String?)] = [("data-subset", info.reference), ("data-selector", info.selector)]
        if !diagnostics.objectiveTrace.isEmpty {
            let quantity = diagnostics.objectiveLabel ?? "objective"
            charts.append(LineChart.panel(
                kind: "trace", title: "\(info.reference): \(info.selector) objective per \(diagnostics.stepLabel ?? "step")",
                series: [.init(label: quantity, values: diagnostics.objectiveTrace)],
                stepTitle: diagnostics.stepLabel ?? "step", valueTitle: quantity, color: color, data: subsetData))
        }
        var groups: [String: [LineChart.Series]] = [:]
        for name in diagnostics.series.keys.sorted() {
            let (quantity, step) = LineChart.describe(seriesName: name)
            groups[step ?? "step", default: []].append(.init(label: quantity, values: diagnostics.series[name]!))
        }
        for step in groups.keys.sorted() {
            let series = groups[step]!.sorted { $0.label.count < $1.label.count || ($0.label.count == $1.label.count && $0.label < $1.label) }
            let quantities = series.map(\.label).joined(separator: ", ")
            charts.append(LineChart.panel(
                kind: "series", title: "\(info.reference): \(quantities) per \(step)", series: series, stepTitle: step,
                valueTitle: series.count == 1 ? series[0].label : "count per \(step)", color: color, data: subsetData))
        }
        return charts
    }
}
