// The Go reference DB worker for Kitsune's benchmarks: what the seed's Go worker does, on the
// stack it used (segmentio/kafka-go, jackc/pgx). It consumes db-events in a consumer group and,
// for each event, checks the idempotency table, executes the command's SQL and records the key,
// in one transaction per fetched batch (statements pipelined with pgx.Batch, prepared once per
// connection), then commits the batch's offsets. A batch that fails is retried event by event;
// an event that still fails is logged and skipped. No results topic, no dead letters, no retries
// with backoff, no metrics: it does less than Kitsune's worker, and sets the floor for that work.
//
// Environment: KAFKA_BROKERS, KAFKA_GROUP_ID, POSTGRES_DSN, KITSUNE_TOPIC_DB_EVENTS and
// KITSUNE_METRICS_PORT, where GET /count answers the number of events handled so far. Prints
// "consuming" once connected.
package main

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/segmentio/kafka-go"
)

const (
	maxBatch = 500
	// How long a batch waits for more records after its first, when none are queued.
	linger = 2 * time.Millisecond
)

// The seed's registry, compiled: each command's statement and the payload fields it binds.
var commands = map[string]struct {
	sql    string
	params []string
}{
	"create_user": {"INSERT INTO users (name, email) VALUES ($1, $2) RETURNING id, name, email, created_at", []string{"name", "email"}},
	"update_user": {"UPDATE users SET name = COALESCE($2, name), email = COALESCE($3, email), updated_at = now() WHERE id = $1 RETURNING id, name, email, updated_at", []string{"id", "name", "email"}},
	"delete_user": {"DELETE FROM users WHERE id = $1", []string{"id"}},
}

const (
	sqlSeen   = "SELECT source, idempotency_key FROM kitsune.idempotency_log WHERE (source, idempotency_key) IN (SELECT * FROM unnest($1::text[], $2::text[]))"
	sqlRecord = "INSERT INTO kitsune.idempotency_log (source, idempotency_key, event_id, command, version, payload_hash) VALUES ($1, $2, $3, $4, $5, $6)"
)

type event struct {
	ID       string          `json:"id"`
	Command  string          `json:"command"`
	Version  string          `json:"version"`
	Raw      json.RawMessage `json:"payload"`
	Metadata struct {
		IdempotencyKey string `json:"idempotency_key"`
		Source         string `json:"source"`
	} `json:"metadata"`
	payload map[string]json.RawMessage
	hash    [32]byte
}

func decode(m kafka.Message) (*event, error) {
	var e event
	if err := json.Unmarshal(m.Value, &e); err != nil {
		return nil, err
	}
	if _, ok := commands[e.Command]; !ok {
		return nil, fmt.Errorf("unknown command %q", e.Command)
	}
	if err := json.Unmarshal(e.Raw, &e.payload); err != nil {
		return nil, err
	}
	e.hash = sha256.Sum256(e.Raw)
	return &e, nil
}

// args binds the payload's fields in the statement's order: strings as text, anything else
// (numbers, null, objects) as its JSON text, which PostgreSQL casts to the column's type.
func args(e *event) []any {
	params := commands[e.Command].params
	out := make([]any, len(params))
	for i, name := range params {
		raw, ok := e.payload[name]
		if !ok || string(raw) == "null" {
			continue
		}
		var s string
		if json.Unmarshal(raw, &s) == nil {
			out[i] = s
		} else {
			out[i] = string(raw)
		}
	}
	return out
}

// apply runs the batch's new events and records their keys in one transaction.
func apply(ctx context.Context, pool *pgxpool.Pool, events []*event) error {
	sources, keys := make([]string, len(events)), make([]string, len(events))
	for i, e := range events {
		sources[i], keys[i] = e.Metadata.Source, e.Metadata.IdempotencyKey
	}
	tx, err := pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx)
	rows, err := tx.Query(ctx, sqlSeen, sources, keys)
	if err != nil {
		return err
	}
	seen := map[[2]string]bool{}
	for rows.Next() {
		var source, key string
		if err := rows.Scan(&source, &key); err != nil {
			return err
		}
		seen[[2]string{source, key}] = true
	}
	if err := rows.Err(); err != nil {
		return err
	}
	batch := &pgx.Batch{}
	for _, e := range events {
		k := [2]string{e.Metadata.Source, e.Metadata.IdempotencyKey}
		if seen[k] {
			continue // a duplicate: its effect is already there
		}
		seen[k] = true
		batch.Queue(commands[e.Command].sql, args(e)...)
		batch.Queue(sqlRecord, e.Metadata.Source, e.Metadata.IdempotencyKey, e.ID, e.Command, e.Version, e.hash[:])
	}
	if batch.Len() > 0 {
		if err := tx.SendBatch(ctx, batch).Close(); err != nil {
			return err
		}
	}
	return tx.Commit(ctx)
}

func main() {
	dsn, topic := os.Getenv("POSTGRES_DSN"), os.Getenv("KITSUNE_TOPIC_DB_EVENTS")
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	pool, err := pgxpool.New(ctx, dsn)
	if err != nil {
		log.Fatal(err)
	}
	defer pool.Close()
	if err := pool.Ping(ctx); err != nil {
		log.Fatal(err)
	}
	reader := kafka.NewReader(kafka.ReaderConfig{
		Brokers:       strings.Split(os.Getenv("KAFKA_BROKERS"), ","),
		GroupID:       os.Getenv("KAFKA_GROUP_ID"),
		Topic:         topic,
		MinBytes:      1,
		MaxBytes:      1 << 20,
		MaxWait:       50 * time.Millisecond,
		QueueCapacity: 2 * maxBatch,
		StartOffset:   kafka.FirstOffset,
	})
	defer reader.Close()

	var handled atomic.Int64
	listener, err := net.Listen("tcp4", "127.0.0.1:"+os.Getenv("KITSUNE_METRICS_PORT"))
	if err != nil {
		log.Fatal(err)
	}
	go http.Serve(listener, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte(strconv.FormatInt(handled.Load(), 10)))
	}))
	fmt.Println("consuming")

	messages := make([]kafka.Message, 0, maxBatch)
	events := make([]*event, 0, maxBatch)
	for {
		messages, events = messages[:0], events[:0]
		first, err := reader.FetchMessage(ctx)
		if err != nil {
			return // shut down
		}
		messages = append(messages, first)
		more, cancel := context.WithTimeout(ctx, linger)
		for len(messages) < maxBatch {
			m, err := reader.FetchMessage(more)
			if err != nil {
				break
			}
			messages = append(messages, m)
		}
		cancel()
		for _, m := range messages {
			if e, err := decode(m); err == nil {
				events = append(events, e)
			} else {
				log.Printf("skipping %s/%d@%d: %v", m.Topic, m.Partition, m.Offset, err)
			}
		}
		if err := apply(ctx, pool, events); err != nil {
			log.Printf("batch of %d failed (%v); applying its events one by one", len(events), err)
			for _, e := range events {
				if err := apply(ctx, pool, []*event{e}); err != nil {
					log.Printf("event %s failed: %v", e.ID, err)
				}
			}
		}
		if err := reader.CommitMessages(ctx, messages...); err != nil {
			return
		}
		handled.Add(int64(len(messages)))
	}
}
