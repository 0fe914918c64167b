// The Go reference API for Kitsune's benchmarks: what the seed's Go API does for POST /execute,
// on the stack it used (gofiber/fiber v2, segmentio/kafka-go). Parse the command, stamp an id,
// produce the event to db-events (keyed by the command's entity key) and the log part to
// app-logs, both with acks=all, and answer 202 once both are acknowledged; 503 with Retry-After
// when the broker does not acknowledge within the deadline. No schema validation, no metrics, no
// tracing: it is the floor a plain Go service sets, not a second implementation of Kitsune.
//
// Environment: HTTP_PORT, KAFKA_BROKERS (comma-separated), KITSUNE_TOPIC_DB_EVENTS,
// KITSUNE_TOPIC_APP_LOGS. Prints "listening <addr>" once it accepts connections.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/segmentio/kafka-go"
)

// entityKeys names the payload field that keys each command's events, as the registry does.
var entityKeys = map[string]string{"create_user": "email", "update_user": "id", "delete_user": "id"}

type command struct {
	Command  string                     `json:"command"`
	Version  string                     `json:"version"`
	Payload  map[string]json.RawMessage `json:"payload"`
	Log      json.RawMessage            `json:"log,omitempty"`
	Metadata struct {
		IdempotencyKey string `json:"idempotency_key,omitempty"`
		Source         string `json:"source,omitempty"`
	} `json:"metadata"`
}

type eventMetadata struct {
	IdempotencyKey string `json:"idempotency_key"`
	Timestamp      string `json:"timestamp"`
	Source         string `json:"source"`
}

type event struct {
	ID       string                     `json:"id"`
	Command  string                     `json:"command"`
	Version  string                     `json:"version"`
	Payload  map[string]json.RawMessage `json:"payload"`
	Log      json.RawMessage            `json:"log,omitempty"`
	Metadata eventMetadata              `json:"metadata"`
}

type accepted struct {
	ID             string            `json:"id"`
	Status         string            `json:"status"`
	IdempotencyKey string            `json:"idempotency_key"`
	Links          map[string]string `json:"links"`
}

// newID is a UUIDv7: 48 bits of Unix milliseconds, then random bits, as Kitsune's ids are.
func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[6:])
	ms := uint64(time.Now().UnixMilli())
	for i := 0; i < 6; i++ {
		b[i] = byte(ms >> (40 - 8*i))
	}
	b[6] = b[6]&0x0f | 0x70
	b[8] = b[8]&0x3f | 0x80
	var s [36]byte
	hex.Encode(s[0:8], b[0:4])
	s[8] = '-'
	hex.Encode(s[9:13], b[4:6])
	s[13] = '-'
	hex.Encode(s[14:18], b[6:8])
	s[18] = '-'
	hex.Encode(s[19:23], b[8:10])
	s[23] = '-'
	hex.Encode(s[24:], b[10:])
	return string(s[:])
}

func traceparent() string {
	var b [24]byte
	_, _ = rand.Read(b[:])
	return "00-" + hex.EncodeToString(b[:16]) + "-" + hex.EncodeToString(b[16:]) + "-01"
}

func problem(c *fiber.Ctx, status int, code, detail string) error {
	return c.Status(status).JSON(fiber.Map{"code": code, "detail": detail})
}

func main() {
	brokers := strings.Split(os.Getenv("KAFKA_BROKERS"), ",")
	dbEvents, appLogs := os.Getenv("KITSUNE_TOPIC_DB_EVENTS"), os.Getenv("KITSUNE_TOPIC_APP_LOGS")
	// kafka-go's defaults suit throughput, not a request that waits: BatchTimeout is 1 s. Concurrent
	// requests still share produce requests: every partition's batch collects what arrives within
	// the linger, up to BatchSize.
	writer := &kafka.Writer{
		Addr:         kafka.TCP(brokers...),
		Balancer:     &kafka.Murmur2Balancer{},
		RequiredAcks: kafka.RequireAll,
		BatchTimeout: time.Millisecond,
		BatchSize:    500,
		BatchBytes:   1 << 20,
		WriteTimeout: 10 * time.Second,
	}
	defer writer.Close()

	app := fiber.New(fiber.Config{DisableStartupMessage: true, BodyLimit: 1 << 20})
	app.Post("/execute", func(c *fiber.Ctx) error {
		var cmd command
		if err := json.Unmarshal(c.Body(), &cmd); err != nil {
			return problem(c, fiber.StatusBadRequest, "invalid_json", err.Error())
		}
		keyField, known := entityKeys[cmd.Command]
		if !known || cmd.Version == "" || cmd.Payload == nil {
			return problem(c, fiber.StatusUnprocessableEntity, "unknown_command", "command, version and payload are required")
		}
		raw, ok := cmd.Payload[keyField]
		if !ok {
			return problem(c, fiber.StatusUnprocessableEntity, "invalid_payload", "payload."+keyField+" is required")
		}
		var entityKey string
		if json.Unmarshal(raw, &entityKey) != nil {
			entityKey = string(raw) // a number keys by its text
		}
		id := newID()
		key := c.Get("Idempotency-Key", cmd.Metadata.IdempotencyKey)
		if key == "" {
			key = id
		}
		source := cmd.Metadata.Source
		if source == "" {
			source = "unknown"
		}
		ev := event{ID: id, Command: cmd.Command, Version: cmd.Version, Payload: cmd.Payload, Log: cmd.Log,
			Metadata: eventMetadata{IdempotencyKey: key, Timestamp: time.Now().UTC().Format(time.RFC3339Nano), Source: source}}
		value, err := json.Marshal(ev)
		if err != nil {
			return problem(c, fiber.StatusInternalServerError, "encode_failed", err.Error())
		}
		// As Kitsune does: the same event on both topics, the log worker reading its log part.
		headers := []kafka.Header{{Key: "kitsune-command", Value: []byte(cmd.Command)},
			{Key: "kitsune-version", Value: []byte(cmd.Version)}, {Key: "traceparent", Value: []byte(traceparent())}}
		messages := []kafka.Message{
			{Topic: dbEvents, Key: []byte(entityKey), Value: value, Headers: headers},
			{Topic: appLogs, Value: value, Headers: headers},
		}
		ctx, cancel := context.WithTimeout(c.UserContext(), 5*time.Second)
		defer cancel()
		if err := writer.WriteMessages(ctx, messages...); err != nil {
			c.Set("Retry-After", "1")
			if errors.Is(err, context.DeadlineExceeded) {
				return problem(c, fiber.StatusServiceUnavailable, "broker_timeout", "the broker did not acknowledge in time")
			}
			return problem(c, fiber.StatusServiceUnavailable, "broker_unavailable", err.Error())
		}
		return c.Status(fiber.StatusAccepted).JSON(accepted{ID: id, Status: "accepted", IdempotencyKey: key, Links: map[string]string{"self": "/events/" + id}})
	})

	listener, err := net.Listen("tcp4", "127.0.0.1:"+os.Getenv("HTTP_PORT"))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("listening %s\n", listener.Addr())
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		<-stop
		_ = app.ShutdownWithTimeout(10 * time.Second)
	}()
	if err := app.Listener(listener); err != nil {
		log.Fatal(err)
	}
}
