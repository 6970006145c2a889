package metricsauth

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/go-logr/logr"
	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/cache"
	utilnet "k8s.io/apimachinery/pkg/util/net"
	"k8s.io/apimachinery/pkg/util/wait"
	authenticationclient "k8s.io/client-go/kubernetes/typed/authentication/v1"
	authorizationclient "k8s.io/client-go/kubernetes/typed/authorization/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/util/retry"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
)

// The lifetimes of cached answers are controller-runtime's filter's: a
// token's review (accepted or rejected) for a minute, an allowed access for
// five, a denied one for 30 s, so that a grant or a revocation takes effect
// within those times. Failed calls are never cached.
const (
	TokenReviewTTL = time.Minute
	AllowedTTL     = 5 * time.Minute
	DeniedTTL      = 30 * time.Second
)

// cacheSize bounds each cache (least recently used entries go first), as the
// apiserver's webhook authorizer bounds its own (8192): distinct tokens and
// identities come from outside, so an unbounded cache would let a client
// grow the operator's memory.
const cacheSize = 8192

// reviewTimeout and reviewBackoff are controller-runtime's (from the
// apiserver's defaults): a review that fails for a reason that may pass
// (throttling, a server error, a reset connection) is retried five times
// over about 4 s.
const reviewTimeout = 10 * time.Second

var reviewBackoff = wait.Backoff{Duration: 500 * time.Millisecond, Factor: 1.5, Jitter: 0.2, Steps: 5}

// Groups the apiserver's authenticated-group adder knows.
const (
	anonymousUser      = "system:anonymous"
	authenticatedGroup = "system:authenticated"
	unauthenticatedGrp = "system:unauthenticated"
)

// NewFilter is a metricsserver.Options.FilterProvider: it serves a request
// only when its bearer token belongs to a user allowed the request's verb
// (the lower-case HTTP method) on its path, and answers 401 without a valid
// token, 403 when the user is not allowed, 500 when the API server cannot
// answer.
func NewFilter(config *rest.Config, httpClient *http.Client) (metricsserver.Filter, error) {
	r, err := newReviewer(config, httpClient)
	if err != nil {
		return nil, err
	}
	return func(log logr.Logger, handler http.Handler) (http.Handler, error) {
		return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			token, ok := bearerToken(req.Header.Get("Authorization"))
			if !ok {
				http.Error(w, "Unauthorized", http.StatusUnauthorized)
				return
			}
			user, ok, err := r.authenticate(req.Context(), token)
			if err != nil {
				log.Error(err, "Authentication failed")
				http.Error(w, "Authentication failed", http.StatusInternalServerError)
				return
			}
			if !ok {
				log.V(4).Info("Authentication failed")
				http.Error(w, "Unauthorized", http.StatusUnauthorized)
				return
			}
			// Nothing after this filter needs the credential.
			req.Header.Del("Authorization")
			allowed, reason, err := r.authorize(req.Context(), user, req.URL.Path, strings.ToLower(req.Method))
			if err != nil {
				msg := fmt.Sprintf("Authorization for user %s failed", user.Username)
				log.Error(err, msg)
				http.Error(w, msg, http.StatusInternalServerError)
				return
			}
			if !allowed {
				msg := fmt.Sprintf("Authorization denied for user %s", user.Username)
				log.V(4).Info(msg, "reason", reason)
				http.Error(w, msg, http.StatusForbidden)
				return
			}
			handler.ServeHTTP(w, req)
		}), nil
	}, nil
}

// bearerToken is the token of an "Authorization: Bearer TOKEN" header, read
// as the apiserver's bearer-token authenticator reads it.
func bearerToken(header string) (string, bool) {
	parts := strings.SplitN(strings.TrimSpace(header), " ", 3)
	if len(parts) < 2 || !strings.EqualFold(parts[0], "bearer") || parts[1] == "" {
		return "", false
	}
	return parts[1], true
}

// reviewer asks the API server who a token is and what it may do, and
// remembers the answers.
type reviewer struct {
	tokenReviews   authenticationclient.TokenReviewInterface
	accessReviews  authorizationclient.SubjectAccessReviewInterface
	tokenKeySecret []byte // keys the token cache by HMAC, never by the token
	identities     *cache.LRUExpireCache
	decisions      *cache.LRUExpireCache
}

// identity is a cached TokenReview answer; user is nil for a rejected token.
type identity struct {
	user *authenticationv1.UserInfo
}

// decision is a cached SubjectAccessReview answer.
type decision struct {
	allowed bool
	reason  string
}

func newReviewer(config *rest.Config, httpClient *http.Client) (*reviewer, error) {
	authn, err := authenticationclient.NewForConfigAndClient(config, httpClient)
	if err != nil {
		return nil, err
	}
	authz, err := authorizationclient.NewForConfigAndClient(config, httpClient)
	if err != nil {
		return nil, err
	}
	// A per-process random HMAC key, as the apiserver's token cache uses:
	// a key seen in memory does not let anyone test a guessed token.
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		return nil, err
	}
	return &reviewer{
		tokenReviews:   authn.TokenReviews(),
		accessReviews:  authz.SubjectAccessReviews(),
		tokenKeySecret: secret,
		identities:     cache.NewLRUExpireCache(cacheSize),
		decisions:      cache.NewLRUExpireCache(cacheSize),
	}, nil
}

// authenticate reviews a token. The review names no audiences, as
// controller-runtime's filter does (it sets no APIAudiences): the API server
// then checks the token against its own audiences (--api-audiences, by
// default the service account issuer), which the tokens kubelet mounts and
// TokenRequest issues carry.
func (r *reviewer) authenticate(ctx context.Context, token string) (*authenticationv1.UserInfo, bool, error) {
	mac := hmac.New(sha256.New, r.tokenKeySecret)
	mac.Write([]byte(token))
	key := string(mac.Sum(nil))
	if cached, ok := r.identities.Get(key); ok {
		user := cached.(identity).user
		return user, user != nil, nil
	}
	review := &authenticationv1.TokenReview{Spec: authenticationv1.TokenReviewSpec{Token: token}}
	var result *authenticationv1.TokenReview
	err := callWithRetries(ctx, func(ctx context.Context) (err error) {
		result, err = r.tokenReviews.Create(ctx, review, metav1.CreateOptions{})
		return err
	})
	if err != nil {
		return nil, false, fmt.Errorf("reviewing the token: %w", err)
	}
	if !result.Status.Authenticated {
		r.identities.Add(key, identity{}, TokenReviewTTL)
		return nil, false, nil
	}
	user := withAuthenticatedGroup(result.Status.User)
	r.identities.Add(key, identity{user: &user}, TokenReviewTTL)
	return &user, true, nil
}

// withAuthenticatedGroup adds system:authenticated as the apiserver's
// authenticated-group adder does, so that RBAC bindings to that group apply.
func withAuthenticatedGroup(user authenticationv1.UserInfo) authenticationv1.UserInfo {
	if user.Username == anonymousUser ||
		slices.Contains(user.Groups, authenticatedGroup) || slices.Contains(user.Groups, unauthenticatedGrp) {
		return user
	}
	user.Groups = append(slices.Clip(user.Groups), authenticatedGroup)
	return user
}

// authorize asks whether a user may use verb on the non-resource path.
func (r *reviewer) authorize(ctx context.Context, user *authenticationv1.UserInfo, path, verb string) (bool, string, error) {
	spec := authorizationv1.SubjectAccessReviewSpec{
		NonResourceAttributes: &authorizationv1.NonResourceAttributes{Path: path, Verb: verb},
		User:                  user.Username,
		UID:                   user.UID,
		Groups:                user.Groups,
	}
	if len(user.Extra) > 0 {
		spec.Extra = make(map[string]authorizationv1.ExtraValue, len(user.Extra))
		for k, v := range user.Extra {
			spec.Extra[k] = authorizationv1.ExtraValue(v)
		}
	}
	// The whole question is the key, as in the apiserver's webhook
	// authorizer; it holds no credential.
	keyBytes, err := json.Marshal(spec)
	if err != nil {
		return false, "", err
	}
	key := string(keyBytes)
	if cached, ok := r.decisions.Get(key); ok {
		d := cached.(decision)
		return d.allowed, d.reason, nil
	}
	var result *authorizationv1.SubjectAccessReview
	err = callWithRetries(ctx, func(ctx context.Context) (err error) {
		result, err = r.accessReviews.Create(ctx, &authorizationv1.SubjectAccessReview{Spec: spec}, metav1.CreateOptions{})
		return err
	})
	if err != nil {
		return false, "", fmt.Errorf("reviewing the access: %w", err)
	}
	d := decision{allowed: result.Status.Allowed && !result.Status.Denied, reason: result.Status.Reason}
	if d.allowed {
		r.decisions.Add(key, d, AllowedTTL)
	} else {
		r.decisions.Add(key, d, DeniedTTL)
	}
	return d.allowed, d.reason, nil
}

// callWithRetries calls create within reviewTimeout, retrying failures that
// may pass.
func callWithRetries(ctx context.Context, create func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, reviewTimeout)
	defer cancel()
	return retry.OnError(reviewBackoff, func(err error) bool {
		return ctx.Err() == nil && mayPass(err)
	}, func() error { return create(ctx) })
}

// mayPass tells failures worth retrying, as the apiserver's webhook
// DefaultShouldRetry does: throttling, server errors, broken connections.
func mayPass(err error) bool {
	if apierrors.IsTooManyRequests(err) || apierrors.IsInternalError(err) || apierrors.IsServerTimeout(err) ||
		apierrors.IsTimeout(err) || apierrors.IsServiceUnavailable(err) || apierrors.IsUnexpectedServerError(err) {
		return true
	}
	return utilnet.IsConnectionReset(err) || utilnet.IsProbableEOF(err) || utilnet.IsConnectionRefused(err)
}
