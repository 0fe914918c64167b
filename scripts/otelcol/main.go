// A minimal OpenTelemetry Collector for Kitsune's tests: the OTLP receiver and the OTLP/HTTP
// exporter, nothing else.
package main

import (
	"log"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/exporter"
	"go.opentelemetry.io/collector/otelcol"
	"go.opentelemetry.io/collector/receiver"
	"go.opentelemetry.io/collector/receiver/otlpreceiver"
	"go.opentelemetry.io/collector/exporter/otlphttpexporter"
)

func main() {
	factories := func() (otelcol.Factories, error) {
		receivers, err := otelcol.MakeFactoryMap[receiver.Factory](otlpreceiver.NewFactory())
		if err != nil {
			return otelcol.Factories{}, err
		}
		exporters, err := otelcol.MakeFactoryMap[exporter.Factory](otlphttpexporter.NewFactory())
		if err != nil {
			return otelcol.Factories{}, err
		}
		return otelcol.Factories{Receivers: receivers, Exporters: exporters}, nil
	}
	info := component.BuildInfo{Command: "kitsune-otelcol", Description: "OTLP receiver to file", Version: "test"}
	cmd := otelcol.NewCommand(otelcol.CollectorSettings{BuildInfo: info, Factories: factories})
	if err := cmd.Execute(); err != nil {
		log.Fatal(err)
	}
}
