-- A rate budget the replicas share: every request one of them sent to a rate-limited API, per
-- budget (a GHL location). A request is counted from when it is granted until one window after
-- its answer: the API counted it at some moment in between.
CREATE TABLE rate_sends (
    id          BIGSERIAL PRIMARY KEY,
    budget      TEXT NOT NULL,
    sent_at     TIMESTAMPTZ NOT NULL,
    answered_at TIMESTAMPTZ
);
CREATE INDEX rate_sends_budget ON rate_sends (budget, answered_at);

-- The limits a replica learned from the API's answers, for replicas that have not learned them
-- yet (their first request would otherwise go out under the documented default).
CREATE TABLE rate_limits (
    budget    TEXT PRIMARY KEY,
    max_sends INTEGER NOT NULL,
    window_us BIGINT NOT NULL
);

-- With `learned`, the caller's limits are the API's and are kept for the others; without, the
-- kept ones apply when there are any.
-- Spends one request of `budget` if fewer than `max_sends` are counted: `granted` is the new
-- request's id (report its answer by setting `answered_at`). Otherwise `wait_us` is how long
-- until the oldest answered request ages out (10 ms while every counted request is in flight).
-- A request never reported answered stops counting after 60 s (its replica died). Replicas
-- asking at once queue on a transaction-scoped advisory lock per budget, so the count and the
-- insert are one step.
CREATE FUNCTION rate_admit(budget_name TEXT, max_sends INTEGER, window_us BIGINT, learned BOOLEAN)
RETURNS TABLE (granted BIGINT, wait_us BIGINT)
LANGUAGE plpgsql AS $$
DECLARE
    kept rate_limits%ROWTYPE;
    now_ts TIMESTAMPTZ;
    horizon TIMESTAMPTZ;
    used INTEGER;
    oldest TIMESTAMPTZ;
    grant_id BIGINT;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtextextended('rate_sends:' || budget_name, 0));
    IF learned THEN
        INSERT INTO rate_limits AS l (budget, max_sends, window_us)
            VALUES (budget_name, max_sends, window_us)
            ON CONFLICT (budget) DO UPDATE SET max_sends = EXCLUDED.max_sends,
                                               window_us = EXCLUDED.window_us
            WHERE l.max_sends <> EXCLUDED.max_sends OR l.window_us <> EXCLUDED.window_us;
    ELSE
        SELECT * INTO kept FROM rate_limits WHERE budget = budget_name;
        IF FOUND THEN
            max_sends := kept.max_sends;
            window_us := kept.window_us;
        END IF;
    END IF;
    now_ts := clock_timestamp();
    horizon := now_ts - make_interval(secs => window_us / 1000000.0);
    DELETE FROM rate_sends
     WHERE budget = budget_name
       AND (answered_at <= horizon
            OR (answered_at IS NULL AND sent_at <= now_ts - interval '60 seconds'));
    SELECT count(*), min(answered_at) INTO used, oldest FROM rate_sends WHERE budget = budget_name;
    IF used < max_sends THEN
        INSERT INTO rate_sends (budget, sent_at) VALUES (budget_name, now_ts)
            RETURNING id INTO grant_id;
        RETURN QUERY SELECT grant_id, NULL::BIGINT;
    ELSIF oldest IS NULL THEN
        RETURN QUERY SELECT NULL::BIGINT, 10000::BIGINT;
    ELSE
        RETURN QUERY SELECT NULL::BIGINT,
            GREATEST(1000, (EXTRACT(EPOCH FROM (oldest - horizon)) * 1000000)::BIGINT);
    END IF;
END
$$;
