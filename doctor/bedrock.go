package doctor

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/bedrock"
	"github.com/aws/aws-sdk-go-v2/service/servicequotas"
	"github.com/aws/smithy-go"

	"github.com/claude-bedrock/claude-bedrock/models"
	"github.com/claude-bedrock/claude-bedrock/quota"
)

// modelFor returns the inference-profile or model ID Claude Code sends for
// the profile, and a line saying how it was derived.
func modelFor(in Input, region string) (id, how string) {
	switch {
	case in.Model == "":
		id = models.PrefixFor(region) + "." + models.DefaultModelID
		return id, fmt.Sprintf("no model set: Claude Code's default, %s in %s", id, region)
	case models.IsAlias(in.Model):
		id = models.Resolve(in.Model, region)
		return id, fmt.Sprintf("alias %s goes out as %s in %s (Claude Code %s)", in.Model, id, region, PinnedClaudeVersion)
	}
	return in.Model, ""
}

// effectiveCap is the max_tokens Claude Code sends: the profile's cap, or
// Claude Code's default for the model (its ceiling where the default was not
// measured).
func effectiveCap(in Input, m models.Model) (capTokens int, isDefault bool) {
	if in.MaxOutputTokens > 0 {
		return in.MaxOutputTokens, false
	}
	if m.DefaultOutput > 0 {
		return m.DefaultOutput, true
	}
	return m.MaxOutput, true
}

// editFix says which profile value to change, and where it comes from now.
func editFix(in Input, key, value string) string {
	s := fmt.Sprintf("set %s = %s in profile %q", key, value, in.Profile)
	for _, v := range in.Values {
		if v.Key == key && v.Source != "" {
			return s + " (now from " + v.Source + ")"
		}
	}
	if in.ConfigPath != "" {
		return s + " in " + tilde(in, in.ConfigPath)
	}
	return s
}

// model checks the model against the models table (prefix, ceiling,
// retirement) and, when credentials are usable, against the Bedrock control
// plane of the region.
func (a *awsState) model(ctx context.Context, in Input) (c Check) {
	c = Check{Name: "model", Status: OK}
	region := a.region
	if region == "" {
		region = in.Region
	}
	id, how := modelFor(in, region)
	if how != "" {
		c.Details = append(c.Details, how)
	}
	prefix, base := models.SplitPrefix(id)
	if i := strings.LastIndex(id, "/"); i >= 0 { // an ARN: judge the profile ID at its end
		prefix, base = models.SplitPrefix(id[i+1:])
	}
	m, known := models.Lookup(id)
	c.Summary = id
	var fixes []string
	if known {
		c.Summary += " (" + m.Name + ")"
	} else {
		c.Status = Warn
		c.Details = append(c.Details, fmt.Sprintf("not a model Claude Code %s knows: its ceiling and burndown are unknown here", PinnedClaudeVersion))
	}
	if region != "" && !models.PrefixFits(prefix, region) {
		c.Status = Fail
		c.Details = append(c.Details, fmt.Sprintf("prefix %q does not fit region %s: Bedrock refuses the call", prefix, region))
		fixes = append(fixes, editFix(in, "model", fmt.Sprintf("%q", models.PrefixFor(region)+"."+base)))
	} else if prefix != "" && region != "" {
		c.Details = append(c.Details, fmt.Sprintf("prefix %q fits region %s", prefix, region))
	}
	if known {
		capTokens, isDefault := effectiveCap(in, m)
		switch {
		case capTokens > m.MaxOutput:
			c.Status = Fail
			c.Details = append(c.Details, fmt.Sprintf("cap %s is above the model's ceiling %s: Claude Code clamps it silently", num(capTokens), num(m.MaxOutput)))
			fixes = append(fixes, editFix(in, "max_output_tokens", fmt.Sprint(m.MaxOutput)))
		case isDefault:
			c.Details = append(c.Details, fmt.Sprintf("no cap set: Claude Code sends max_tokens %s (ceiling %s)", num(capTokens), num(m.MaxOutput)))
		default:
			c.Details = append(c.Details, fmt.Sprintf("cap %s within the ceiling %s", num(capTokens), num(m.MaxOutput)))
		}
		if capTokens < models.MinThrottleReservation {
			c.Details = append(c.Details, fmt.Sprintf("the old Claude Code documentation stated that Bedrock counts at least %s against the quota whatever the cap: below that a cap may save no quota, it only cuts answers short",
				num(models.MinThrottleReservation)))
		}
		if m.Retired != "" {
			if m.Retired <= in.Now().UTC().Format("2006-01-02") {
				c.Status = Fail
				c.Details = append(c.Details, fmt.Sprintf("%s was retired on Bedrock on %s", m.Name, m.Retired))
				fixes = append(fixes, editFix(in, "model", `"sonnet"`))
			} else {
				c.Status = worse(c.Status, Warn)
				c.Details = append(c.Details, fmt.Sprintf("%s retires on Bedrock on %s", m.Name, m.Retired))
			}
		}
	}
	if sf := in.SmallFastModel; sf != "" && region != "" {
		// A background model whose prefix does not fit the region fails
		// quietly in the background (anthropics/claude-code#10166).
		sfID := models.Resolve(sf, region)
		sfPrefix, sfBase := models.SplitPrefix(sfID)
		if !models.PrefixFits(sfPrefix, region) {
			c.Status = Fail
			c.Details = append(c.Details, fmt.Sprintf("small_fast_model %s: prefix %q does not fit region %s", sfID, sfPrefix, region))
			fixes = append(fixes, editFix(in, "small_fast_model", fmt.Sprintf("%q", models.PrefixFor(region)+"."+sfBase)))
		} else {
			c.Details = append(c.Details, fmt.Sprintf("small_fast_model %s fits region %s", sfID, region))
		}
	}
	defer func() { c.Fix = strings.Join(fixes, "; ") }()

	if !a.usable || region == "" {
		c.Status = worse(c.Status, Unchecked)
		c.Summary += "; not confirmed with Bedrock: " + a.why
		return c
	}
	ctx, cancel := context.WithTimeout(ctx, in.Timeout)
	defer cancel()
	client := bedrock.NewFromConfig(a.cfg, func(o *bedrock.Options) {
		if e := endpointFor(in, "BEDROCK"); e != nil {
			o.BaseEndpoint = e
		}
	})
	var status string
	var err error
	if prefix != "" || strings.Contains(id, ":inference-profile/") || strings.Contains(id, ":application-inference-profile/") {
		var out *bedrock.GetInferenceProfileOutput
		out, err = client.GetInferenceProfile(ctx, &bedrock.GetInferenceProfileInput{InferenceProfileIdentifier: aws.String(id)})
		if err == nil {
			status = string(out.Status)
			c.Details = append(c.Details, fmt.Sprintf("inference profile %s: %s, %s", aws.ToString(out.InferenceProfileId), out.Type, status))
		}
	} else {
		var out *bedrock.GetFoundationModelOutput
		out, err = client.GetFoundationModel(ctx, &bedrock.GetFoundationModelInput{ModelIdentifier: aws.String(id)})
		if err == nil && out.ModelDetails != nil {
			status = "ACTIVE"
			if out.ModelDetails.ModelLifecycle != nil {
				status = string(out.ModelDetails.ModelLifecycle.Status)
			}
			c.Details = append(c.Details, fmt.Sprintf("foundation model %s: %s", aws.ToString(out.ModelDetails.ModelId), status))
		}
	}
	var ae smithy.APIError
	c.reached = err == nil || errors.As(err, &ae)
	switch {
	case err == nil && status != "ACTIVE":
		c.Status = Fail
		c.Details = append(c.Details, fmt.Sprintf("status %s in %s: not usable", status, region))
		fixes = append(fixes, listFix(region))
	case err == nil:
		c.Summary += ", active in " + region
	case errors.As(err, &ae) && (ae.ErrorCode() == "ResourceNotFoundException" || ae.ErrorCode() == "ValidationException"):
		c.Status = Fail
		c.Details = append(c.Details, fmt.Sprintf("Bedrock in %s does not know %s: %s", region, id, ae.ErrorMessage()))
		fixes = append(fixes, listFix(region))
	case errors.As(err, &ae) && ae.ErrorCode() == "AccessDeniedException":
		c.Status = worse(c.Status, Unchecked)
		c.Summary += "; not confirmed with Bedrock: not allowed to read its inference profiles"
	default:
		// An unreachable endpoint fails: claude could not reach it either.
		// Refused credentials, throttling: the identity check owns
		// credential problems, so here the model is simply not confirmed.
		_, why, unreachable := callError(ctx, in, "Bedrock", err, false)
		c.Summary += "; not confirmed with Bedrock: " + why
		if unreachable {
			c.Status = Fail
			fixes = append(fixes, reachFix(in, "BEDROCK", "bedrock", region))
		} else {
			c.Status = worse(c.Status, Unchecked)
		}
	}
	return c
}

// listFix is the command that lists the inference profiles of a region.
func listFix(region string) string {
	return fmt.Sprintf("aws bedrock list-inference-profiles --region %s --query 'inferenceProfileSummaries[].inferenceProfileId' --output text", region)
}

// quotaResult is what the quota check found, for the report and the cache.
type quotaResult struct {
	rec   quota.Recommendation
	cache quota.Cached
	fresh bool // fetched now, not read from the cache
}

// quotaKindName says which kind of quota a prefix uses, for the report.
func quotaKindName(prefix string) string {
	switch prefix {
	case "":
		return "on-demand"
	case "global":
		return "global cross-region"
	}
	return "cross-region"
}

// quota finds the account's tokens- and requests-per-minute quotas for the
// model in Service Quotas (from the cache when Service Quotas cannot be
// asked) and shows the cap arithmetic.
func (a *awsState) quota(ctx context.Context, in Input) (Check, *quotaResult) {
	c := Check{Name: "quota", Status: OK}
	region := a.region
	if region == "" {
		region = in.Region
	}
	id, _ := modelFor(in, region)
	m, known := models.Lookup(id)
	if !known {
		c.Status, c.Summary = Unchecked, "not checked: the model is not in the models table, so its quota cannot be named"
		return c, nil
	}
	prefix, _ := models.SplitPrefix(id[strings.LastIndex(id, "/")+1:])
	kind := quota.Kind(prefix)
	q := quota.Cached{AWSProfile: in.AWSProfile, Region: region, Model: id, Fetched: in.Now().UTC()}

	// fromCache explains the quota cached by an earlier run when Service
	// Quotas cannot tell now. fix is set when its endpoint is out of reach:
	// that fails the check (without a cached quota) or warns (with one).
	fromCache := func(why, fix string) (Check, *quotaResult) {
		cq, ok := quota.ReadCache(in.CacheDir, in.AWSProfile, region, id, in.Now())
		if !ok {
			c.Status, c.Summary, c.Fix = Unchecked, "not checked: "+why, fix
			if fix != "" {
				c.Status = Fail
			}
			return c, nil
		}
		c.Details = append(c.Details, fmt.Sprintf("from the cache of %s (%s)", stamp(cq.Fetched), why))
		check, res := a.explain(in, c, m, prefix, cq)
		if fix != "" {
			check.Status, check.Fix = worse(check.Status, Warn), joinFix(check.Fix, fix)
		}
		return check, res
	}
	if !a.usable {
		return fromCache(a.why, "")
	}
	ctx, cancel := context.WithTimeout(ctx, in.Timeout)
	defer cancel()
	tpmCode, err := LookupQuota(ctx, a.cfg, endpointFor(in, "SERVICE_QUOTAS"), m, kind, &q)
	c.reached = true // unless the lookup failed below
	if err != nil {
		var ae smithy.APIError
		c.reached = errors.As(err, &ae)
		if c.reached && ae.ErrorCode() == "AccessDeniedException" {
			return fromCache("not allowed to call servicequotas:ListServiceQuotas", "")
		}
		// As for the model: credential problems are the identity
		// check's to report; the quota is just not known.
		_, why, unreachable := callError(ctx, in, "Service Quotas", err, false)
		if unreachable {
			return fromCache(why, reachFix(in, "SERVICE_QUOTAS", "servicequotas", region))
		}
		return fromCache(why, "")
	}
	if q.TPMName == "" || q.TPM <= 0 {
		c.Status = Warn
		c.Summary = fmt.Sprintf("no %s tokens-per-minute quota for %s in %s", quotaKindName(prefix), m.Name, region)
		c.Details = append(c.Details, fmt.Sprintf("looked for a quota named like %q", capFirst(kind)+" tokens per minute for Anthropic "+m.Name+" V1"))
		c.Fix = fmt.Sprintf("aws service-quotas list-service-quotas --service-code bedrock --region %s --query \"Quotas[?contains(QuotaName, '%s')].[QuotaName,Value]\" --output text", region, m.Name)
		return c, nil
	}
	check, res := a.explain(in, c, m, prefix, q)
	res.fresh = true
	if check.Status == Warn && res.rec.Limit == "minimum" && tpmCode != "" {
		capTokens, _ := effectiveCap(in, m)
		want := in.Parallel * res.rec.Hold(min(capTokens, 8192)).High
		check.Fix = joinFix(check.Fix, fmt.Sprintf("aws service-quotas request-service-quota-increase --service-code bedrock --quota-code %s --desired-value %d --region %s", tpmCode, want, region))
	}
	return check, res
}

// LookupQuota asks Service Quotas (at endpoint, when not nil) for the
// tokens- and requests-per-minute quotas of model m for the kind of
// inference profile kind (quota.Kind), and fills them into q (TPM, RPM and
// their names; zero when Service Quotas has none of that name). It returns
// the tokens-per-minute quota's code, for an increase request. The doctor's
// quota check and the session gateway, which refreshes a missing quota in
// the background, both look it up this way.
func LookupQuota(ctx context.Context, cfg aws.Config, endpoint *string, m models.Model, kind string, q *quota.Cached) (tpmCode string, err error) {
	client := servicequotas.NewFromConfig(cfg, func(o *servicequotas.Options) {
		if endpoint != nil {
			o.BaseEndpoint = endpoint
		}
	})
	pages := servicequotas.NewListServiceQuotasPaginator(client, &servicequotas.ListServiceQuotasInput{
		ServiceCode: aws.String("bedrock"), MaxResults: aws.Int32(100),
	})
	for pages.HasMorePages() {
		out, err := pages.NextPage(ctx)
		if err != nil {
			return "", err
		}
		for _, sq := range out.Quotas {
			name := aws.ToString(sq.QuotaName)
			switch {
			case q.TPMName == "" && quota.Matches(name, kind, "tokens per minute", m.Name):
				q.TPMName, q.TPM, tpmCode = name, int(aws.ToFloat64(sq.Value)), aws.ToString(sq.QuotaCode)
			case q.RPMName == "" && quota.Matches(name, kind, "requests per minute", m.Name):
				q.RPMName, q.RPM = name, int(aws.ToFloat64(sq.Value))
			}
		}
	}
	return tpmCode, nil
}

// capFirst upper-cases the first letter.
func capFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// burndownLine says which burndown the arithmetic counts for m and where it
// comes from: AWS's page, the profile, or, for a model no source documents,
// the rate advised in its place.
func burndownLine(in Input, m models.Model, rate int) string {
	switch {
	case in.Burndown > 0:
		return fmt.Sprintf("burndown %d for %s, as burndown = %d in profile %q says (AWS's page documents %s)",
			rate, m.Name, in.Burndown, in.Profile, documented(m))
	case m.Burndown > 0:
		return fmt.Sprintf("burndown %d for %s: each output token counts %d times (AWS Bedrock user guide, \"quotas-token-burndown\"); cache reads count nothing",
			rate, m.Name, rate)
	}
	return fmt.Sprintf("burndown unknown: no AWS source documents it for %s; counted at %d, the highest of its generation (set burndown = N in profile %q if you know it)",
		m.Name, rate, in.Profile)
}

// documented names the rate AWS documents for m, or says there is none.
func documented(m models.Model) string {
	if m.Burndown > 0 {
		return fmt.Sprintf("%dx", m.Burndown)
	}
	return "none"
}

// explain shows the quota arithmetic for a known quota — both readings of
// what a request holds at its start, the cap recommended from the stricter —
// and compares it with the profile's cap and Claude Code's default.
func (a *awsState) explain(in Input, c Check, m models.Model, prefix string, q quota.Cached) (Check, *quotaResult) {
	rate, known := quota.ModelBurndown(q.Model, in.Burndown)
	r := quota.Recommend(q.TPM, in.Parallel, quota.TypicalInput, rate, m.MaxOutput)
	r.RPM, r.BurndownKnown = q.RPM, known
	c.Summary = fmt.Sprintf("%s tokens/min", num(q.TPM))
	if q.RPM > 0 {
		c.Summary += fmt.Sprintf(", %s requests/min", num(q.RPM))
	}
	c.Summary += fmt.Sprintf(" (%s %s, %s): recommended cap %s", quotaKindName(prefix), m.Name, q.Region, num(r.Cap))
	c.Details = append(c.Details, fmt.Sprintf("%q = %s", q.TPMName, num(q.TPM)))
	if q.RPMName != "" {
		c.Details = append(c.Details, fmt.Sprintf("%q = %s", q.RPMName, num(q.RPM)))
	} else {
		c.Details = append(c.Details, fmt.Sprintf("no requests-per-minute quota for %s: only tokens per minute limit it", m.Name))
	}
	floor := num(models.MinThrottleReservation)
	c.Details = append(c.Details,
		burndownLine(in, m, rate),
		fmt.Sprintf("a request holds from its start input + cap, or input + %d × cap: AWS's sources say both; the cap is recommended from the stricter", r.Burndown),
		fmt.Sprintf("a cap below %s counts as %s, as the old Claude Code documentation stated", floor, floor),
		fmt.Sprintf("largest cap for %d parallel requests of %s input tokens: (%s / %d − %s) / %d = %s",
			r.Parallel, num(r.Input), num(r.TPM), r.Parallel, num(r.Input), r.Burndown, num(r.Exact)))
	switch r.Limit {
	case "ceiling":
		c.Details = append(c.Details, fmt.Sprintf("→ %s, the model's ceiling", num(r.Cap)))
	case "minimum":
		c.Status = Warn
		c.Details = append(c.Details, fmt.Sprintf("→ %s: the quota is too small for %d parallel requests at any cap (Bedrock counts at least %s per request)",
			num(r.Cap), r.Parallel, floor))
	default:
		c.Details = append(c.Details, fmt.Sprintf("→ %s, rounded down to a multiple of %d", num(r.Cap), quota.Rounding))
	}
	line := func(label string, capTokens int) string {
		fits := fmt.Sprintf("%d fit", r.Fits(capTokens))
		if r.Fits(capTokens) == 1 {
			fits = "1 fits"
		}
		h := r.Hold(capTokens)
		return fmt.Sprintf("%s %s: each request holds between %s and %s at its start; %s in a minute",
			label, num(capTokens), num(h.Low), num(h.High), fits)
	}
	capTokens, isDefault := effectiveCap(in, m)
	if isDefault {
		c.Details = append(c.Details, line("no cap set, Claude Code's default", capTokens))
	} else {
		c.Details = append(c.Details, line("profile cap", capTokens))
		if m.DefaultOutput > 0 && m.DefaultOutput != capTokens {
			c.Details = append(c.Details, line("Claude Code's default", m.DefaultOutput))
		}
	}
	if capTokens > r.Cap && r.Limit != "minimum" {
		c.Status = Warn
		c.Details = append(c.Details, fmt.Sprintf("the cap %s lets fewer than %d requests run at once: expect 429 Too many tokens", num(capTokens), r.Parallel))
		c.Fix = fmt.Sprintf("CLAUDE_BEDROCK_MAX_OUTPUT_TOKENS=%d claude-bedrock (one run); to keep it, %s", r.Cap, editFix(in, "max_output_tokens", fmt.Sprint(r.Cap)))
	}
	return c, &quotaResult{rec: r, cache: q}
}
