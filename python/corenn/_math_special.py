"""Special functions of ``tf.math`` / ``tf.math.special`` in float64 NumPy (results float32).

Each function is a plain vectorized float64 evaluation: a power series where it has no
cancellation, an asymptotic expansion or a continued fraction (modified Lentz) where the series
would lose digits, and a trapezoid rule where an integral representation converges
exponentially (K_nu). Domains follow TensorFlow: nan outside (a negative argument of y0 / k0 /
spence, a < 0 for igamma), +-inf at poles. The public, differentiable wrappers are in
``math.py``; the derivatives used there are the closed forms next to each function.
"""
from __future__ import annotations

import math as _m

import numpy as np

EULER = 0.57721566490153286061


def _f64(x):
    return np.asarray(x, np.float64)


# -- modified Bessel functions of the first kind -----------------------------------------------

def _i_series(nu, x):
    """I_nu(|x|) by its power series sum (x/2)^(2k+nu) / (k! (k+nu)!): positive terms only."""
    h = np.abs(x) / 2.0
    term = h ** nu / _m.factorial(nu)
    total = term.copy()
    for k in range(1, 400):
        term = term * h * h / (k * (k + nu))
        total += term
        if np.all(term <= 1e-17 * total):
            break
    return total


def _scaled_asymptotic(nu, ax, sign):
    """sum_k sign^k a_k(nu) / ax^k, a_k = prod_{j<=k} (4nu^2 - (2j-1)^2) / (k! 8^k): the series of
    I_nu e^-x sqrt(2 pi x) (sign -1) and K_nu e^x sqrt(2x/pi) (sign +1); ax >= 30 here."""
    mu = 4.0 * nu * nu
    term = np.ones_like(ax)
    total = term.copy()
    for k in range(1, 40):
        term = term * sign * (mu - (2 * k - 1) ** 2) / (k * 8.0 * ax)
        total += term
    return total


def bessel_ie(nu, x):
    """e^-|x| I_nu(x) for nu = 0, 1 (I_1 odd)."""
    x = _f64(x)
    ax = np.abs(x)
    out = np.empty_like(ax)
    small = ax <= 30.0
    with np.errstate(all="ignore"):
        out[small] = _i_series(nu, ax[small]) * np.exp(-ax[small])
        big = ax[~small]
        out[~small] = _scaled_asymptotic(nu, big, -1.0) / np.sqrt(2.0 * np.pi * big)
    return np.where(x < 0, -out, out) if nu == 1 else out


def bessel_i(nu, x):
    x = _f64(x)
    with np.errstate(over="ignore"):
        return bessel_ie(nu, x) * np.exp(np.abs(x))


# -- modified Bessel functions of the second kind ------------------------------------------------

def bessel_ke(nu, x):
    """e^x K_nu(x): for 0 < x <= 30, int_0^inf e^(-x (cosh t - 1)) cosh(nu t) dt by the
    trapezoid rule (its error falls like exp(x (1 - cos d) - 2 pi d / h) for an integrand analytic
    in the strip |Im t| < d); the asymptotic series beyond. As TensorFlow: inf for x <= 0."""
    x = _f64(x)
    out = np.full(x.shape, np.nan)
    out[x <= 0] = np.inf
    mid = (x > 0) & (x <= 30.0)
    if mid.any():
        xp = x[mid]
        h = 0.08
        t_max = np.arccosh(1.0 + 45.0 / xp.min())        # where the integrand is below e^-45
        t = np.arange(0.0, t_max + h, h)
        w = np.full(t.shape, h)
        w[0] = h / 2
        vals = np.empty_like(xp)
        for i in range(0, xp.size, 2048):
            with np.errstate(under="ignore"):
                f = np.exp(-np.multiply.outer(xp[i:i + 2048], np.cosh(t) - 1.0)) * np.cosh(nu * t)
            vals[i:i + 2048] = f @ w
        out[mid] = vals
    big = x > 30.0
    xb = x[big]
    out[big] = _scaled_asymptotic(nu, xb, 1.0) * np.sqrt(np.pi / (2.0 * xb))
    return out


def bessel_k(nu, x):
    x = _f64(x)
    with np.errstate(all="ignore"):
        return bessel_ke(nu, x) * np.exp(-x)


# -- Bessel functions of the first and second kind -------------------------------------------------

def _hankel(nu, ax):
    """(P, Q, chi) of Hankel's expansion, J = sqrt(2/(pi x)) (P cos chi - Q sin chi),
    Y = sqrt(2/(pi x)) (P sin chi + Q cos chi); ax >= 12, summed while the terms decrease."""
    mu = 4.0 * nu * nu
    p = np.ones_like(ax)
    q = np.zeros_like(ax)
    term = np.ones_like(ax)
    alive = np.ones(ax.shape, bool)
    prev = np.full(ax.shape, np.inf)
    for k in range(1, 60):
        term = term * (mu - (2 * k - 1) ** 2) / (k * 8.0 * ax)
        mag = np.abs(term)
        alive &= mag < prev
        prev = np.where(alive, mag, prev)
        t = np.where(alive, term, 0.0)
        if k % 2:
            q += t * (1 if k % 4 == 1 else -1)
        else:
            p += t * (-1 if k % 4 == 2 else 1)
    chi = ax - (nu / 2.0 + 0.25) * np.pi
    return p, q, chi


def _j_series(nu, x):
    h = x / 2.0
    term = h ** nu / _m.factorial(nu)
    total = term.copy()
    for k in range(1, 120):
        term = -term * h * h / (k * (k + nu))
        total += term
    return total


_SPLIT = 12.0


def bessel_j(nu, x):
    """J_0 (even), J_1 (odd): the power series up to |x| = 12, Hankel's expansion beyond."""
    x = _f64(x)
    ax = np.abs(x)
    out = np.empty_like(ax)
    small = ax < _SPLIT
    out[small] = _j_series(nu, ax[small])
    big = ax[~small]
    if big.size:
        p, q, chi = _hankel(nu, big)
        out[~small] = np.sqrt(2.0 / (np.pi * big)) * (p * np.cos(chi) - q * np.sin(chi))
    return np.where(x < 0, -out, out) if nu == 1 else out


def _y_series(nu, x):
    """Y_0, Y_1 by their series (A&S 9.1.13 / 9.1.11) for 0 < x < 12."""
    h = x / 2.0
    with np.errstate(divide="ignore"):
        lg = np.log(h)
    if nu == 0:
        term = np.ones_like(x)
        harm = 0.0
        total = np.zeros_like(x)
        for k in range(1, 120):
            term = -term * h * h / (k * k)
            harm += 1.0 / k
            total -= term * harm
        return (2.0 / np.pi) * ((lg + EULER) * _j_series(0, x) + total)
    # nu == 1: psi(k+1) + psi(k+2) = 2 H_k + 1/(k+1) - 2 gamma
    term = h.copy()
    harm = 0.0
    total = term * (1.0 - 2.0 * EULER)
    for k in range(1, 120):
        term = -term * h * h / (k * (k + 1))
        harm += 1.0 / k
        total += term * (2.0 * harm + 1.0 / (k + 1) - 2.0 * EULER)
    with np.errstate(divide="ignore"):
        return (2.0 / np.pi) * lg * _j_series(1, x) - 2.0 / (np.pi * x) - total / np.pi


def bessel_y(nu, x):
    """Y_0, Y_1: -inf for x <= 0, as TensorFlow."""
    x = _f64(x)
    out = np.full(x.shape, np.nan)
    out[x <= 0] = -np.inf
    small = (x > 0) & (x < _SPLIT)
    out[small] = _y_series(nu, x[small])
    bigm = x >= _SPLIT
    big = x[bigm]
    if big.size:
        p, q, chi = _hankel(nu, big)
        out[bigm] = np.sqrt(2.0 / (np.pi * big)) * (p * np.sin(chi) + q * np.cos(chi))
    return out


# -- Dawson, exponential integral, Fresnel, Spence --------------------------------------------------

def dawsn(x):
    """F(x) = e^-x^2 int_0^x e^t^2 dt: Taylor series for |x| < 1, Rybicki's sum
    F(z) ~ pi^-1/2 sum_{n odd} e^-(z - n h)^2 / n (error ~ exp(-(pi / 2h)^2)) up to 50,
    the asymptotic series 1/(2x) sum (2k-1)!!/(2x^2)^k beyond."""
    x = _f64(x)
    ax = np.abs(x)
    out = np.empty_like(ax)
    s = ax < 1.0
    xs = ax[s]
    term = xs.copy()
    tot = xs.copy()
    for k in range(1, 40):
        term = -term * 2.0 * xs * xs / (2 * k + 1)
        tot += term
    out[s] = tot
    m = (ax >= 1.0) & (ax <= 50.0)
    z = ax[m]
    if z.size:
        h = 0.2
        n0 = 2.0 * np.round((z / h - 1.0) / 2.0) + 1.0       # the odd n nearest z / h
        n = n0[:, None] + 2.0 * np.arange(-16, 17)[None, :]     # |z - n h| > 6.2 beyond: < e^-38
        out[m] = (np.exp(-(z[:, None] - n * h) ** 2) / n).sum(axis=1) / np.sqrt(np.pi)
    b = ax > 50.0
    xb = ax[b]
    term = np.ones_like(xb)
    tot = np.ones_like(xb)
    for k in range(1, 12):
        term = term * (2 * k - 1) / (2.0 * xb * xb)
        tot += term
    out[b] = tot / (2.0 * xb)
    return np.where(x < 0, -out, out)


def expint(x):
    """Ei(x) = -PV int_-x^inf e^-t / t dt: its series gamma + ln x + sum x^k / (k k!) for
    0 < x <= 40, the asymptotic e^x / x sum k! / x^k beyond; -inf at 0 and, as TensorFlow, nan
    for x < 0."""
    x = _f64(x)
    out = np.full(x.shape, np.nan)
    out[x == 0] = -np.inf
    s = (x > 0) & (x <= 40.0)
    xs = x[s]
    term = np.ones_like(xs)
    tot = np.zeros_like(xs)
    for k in range(1, 200):
        term = term * xs / k
        tot += term / k
        if np.all(term / k <= 1e-17 * tot):
            break
    out[s] = EULER + np.log(xs) + tot
    b = x > 40.0
    xb = x[b]
    term = np.ones_like(xb)
    tot = np.ones_like(xb)
    for k in range(1, 40):
        term = term * k / xb
        tot += term
    with np.errstate(over="ignore"):
        out[b] = np.exp(xb) / xb * tot
    return out


def _erfc_complex_cf(w):
    """erfc(w) for Re w > 0 by the continued fraction
    e^-w^2 / sqrt(pi) * 1 / (w + (1/2) / (w + 1 / (w + (3/2) / (w + ...)))) (modified Lentz)."""
    tiny = 1e-300
    f = w.copy()
    c = w.copy()
    d = np.zeros_like(w)
    for k in range(1, 400):
        a = k / 2.0
        d = w + a * d
        d = np.where(d == 0, tiny, d)
        c = w + a / c
        c = np.where(c == 0, tiny, c)
        d = 1.0 / d
        delta = c * d
        f = f * delta
        if np.all(np.abs(delta - 1.0) < 4e-16):
            break
    return np.exp(-w * w) / (np.sqrt(np.pi) * f)


def fresnel(x):
    """(S(x), C(x)) = int_0^x (sin, cos)(pi t^2 / 2) dt: power series for |x| <= 2.5, from
    C + iS = (1 + i)/2 erf((1 - i) sqrt(pi) x / 2) and erfc's continued fraction beyond."""
    x = _f64(x)
    ax = np.abs(x)
    s_out = np.empty_like(ax)
    c_out = np.empty_like(ax)
    sm = ax <= 2.5
    xs = ax[sm]
    u = np.pi / 2.0 * xs * xs
    # C = sum (-1)^k u^2k x / ((2k)! (4k+1)), S = sum (-1)^k u^(2k+1) x / ((2k+1)! (4k+3))
    term = xs.copy()                      # x u^n / n!
    c_tot = np.zeros_like(xs)
    s_tot = np.zeros_like(xs)
    for n in range(0, 80):
        if n > 0:
            term = term * u / n
        sign = -1.0 if (n // 2) % 2 else 1.0
        if n % 2 == 0:
            c_tot += sign * term / (2 * n + 1)
        else:
            s_tot += sign * term / (2 * n + 1)
    s_out[sm] = s_tot
    c_out[sm] = c_tot
    cf = ~sm & (ax <= 1e5)
    xb = ax[cf]
    if xb.size:
        w = (1.0 - 1.0j) * np.sqrt(np.pi) * xb / 2.0
        z = (1.0 + 1.0j) / 2.0 * (1.0 - _erfc_complex_cf(w.astype(np.complex128)))
        c_out[cf] = z.real
        s_out[cf] = z.imag
    big = ax > 1e5            # C, S = 1/2 +- (sin, cos)(pi x^2 / 2) / (pi x), to 1 / (pi x)^3
    xb = ax[big]
    with np.errstate(all="ignore"):
        u = np.pi / 2 * xb * xb
        f = np.where(np.isinf(xb), 0.0, 1.0 / (np.pi * xb))
        c_out[big] = 0.5 + f * np.where(np.isinf(u), 0.0, np.sin(u))
        s_out[big] = 0.5 - f * np.where(np.isinf(u), 0.0, np.cos(u))
    return np.where(x < 0, -s_out, s_out), np.where(x < 0, -c_out, c_out)


def _li2_series(z):
    term = np.ones_like(z)
    tot = np.zeros_like(z)
    for k in range(1, 70):
        term = term * z
        tot += term / (k * k)
    return tot


def spence(x):
    """Spence's integral int_1^x ln t / (1 - t) dt = Li2(1 - x) for x >= 0 (nan below): the
    series of Li2 near 0, Euler's reflection for x < 1/2 and the inversion x -> 1/x above 3/2."""
    x = _f64(x)
    out = np.full(x.shape, np.nan)
    ok = (x >= 0) & np.isfinite(x)          # TensorFlow: nan at +inf too
    xv = x[ok]
    inv = xv > 1.5
    y = np.where(inv, 1.0 / np.where(inv, xv, 1.0), xv)         # now 0 <= y <= 1.5
    refl = y < 0.5
    with np.errstate(divide="ignore", invalid="ignore"):
        direct = _li2_series(1.0 - y)
        reflected = np.pi ** 2 / 6.0 - np.log(y) * np.log1p(-y) - _li2_series(y)
        reflected = np.where(y == 0, np.pi ** 2 / 6.0, reflected)
        val = np.where(refl, reflected, direct)
        lx = np.log(np.where(inv, xv, 1.0))
        val = np.where(inv, -0.5 * lx * lx - val, val)
    out[ok] = val
    return out


# -- incomplete gamma and beta -------------------------------------------------------------------

def _lgamma(a):
    return np.vectorize(lambda v: _m.lgamma(v) if v > 0 else np.inf, otypes=[np.float64])(a) if a.size else a


def igamma(a, x):
    """(P, Q): the regularized lower and upper incomplete gamma functions (a > 0, x >= 0; nan
    elsewhere). The series of P for x < a + 1, the continued fraction of Q beyond."""
    a, x = np.broadcast_arrays(_f64(a), _f64(x))
    a, x = a.reshape(-1), x.reshape(-1)
    p = np.full(a.shape, np.nan)
    q = np.full(a.shape, np.nan)
    ok = (a > 0) & (x >= 0)
    p[x == 0] = 0.0                                # TensorFlow: P(a, 0) = 0 for any a
    zero = ok & (x == 0)
    p[zero], q[zero] = 0.0, 1.0
    inf = ok & np.isinf(x)
    p[inf], q[inf] = 1.0, 0.0
    ser = ok & (x > 0) & (x < a + 1) & ~inf
    cf = ok & (x > 0) & (x >= a + 1) & ~inf
    if ser.any():
        av, xv = a[ser], x[ser]
        dl = 1.0 / av
        tot = dl.copy()
        live = np.arange(av.size)          # the entries still summing (a large a needs ~sqrt(a) terms)
        for n in range(1, 1_000_000):
            dl[live] = dl[live] * xv[live] / (av[live] + n)
            tot[live] += dl[live]
            live = live[np.abs(dl[live]) >= np.abs(tot[live]) * 1e-17]
            if not live.size:
                break
        val = tot * np.exp(-xv + av * np.log(xv) - _lgamma(av))
        p[ser], q[ser] = val, 1.0 - val
    if cf.any():
        av, xv = a[cf], x[cf]
        tiny = 1e-300
        b = xv + 1.0 - av
        c = np.full_like(xv, 1.0 / tiny)
        d = 1.0 / b
        hh = d.copy()
        live = np.arange(av.size)
        for i in range(1, 1_000_000):
            an = -i * (i - av[live])
            b[live] += 2.0
            dd = an * d[live] + b[live]
            dd = np.where(np.abs(dd) < tiny, tiny, dd)
            cc = b[live] + an / c[live]
            cc = np.where(np.abs(cc) < tiny, tiny, cc)
            d[live], c[live] = 1.0 / dd, cc
            delta = d[live] * cc
            hh[live] *= delta
            live = live[np.abs(delta - 1.0) >= 4e-16]
            if not live.size:
                break
        val = np.exp(-xv + av * np.log(xv) - _lgamma(av)) * hh
        q[cf], p[cf] = val, 1.0 - val
    return p, q


def _betacf(a, b, x):
    tiny = 1e-300
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c = np.ones_like(x)
    d = 1.0 - qab * x / qap
    d = np.where(np.abs(d) < tiny, tiny, d)
    d = 1.0 / d
    h = d.copy()
    for m in range(1, 10000):
        m2 = 2 * m
        for aa in (m * (b - m) * x / ((qam + m2) * (a + m2)),
                   -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))):
            d = 1.0 + aa * d
            d = np.where(np.abs(d) < tiny, tiny, d)
            c = 1.0 + aa / c
            c = np.where(np.abs(c) < tiny, tiny, c)
            d = 1.0 / d
            delta = d * c
            h *= delta
        if np.all(np.abs(delta - 1.0) < 4e-16):
            break
    return h


def betainc(a, b, x):
    """I_x(a, b), the regularized incomplete beta function (a, b > 0, 0 <= x <= 1; nan
    elsewhere): Lentz's continued fraction on the side of x where it converges fast."""
    a, b, x = np.broadcast_arrays(_f64(a), _f64(b), _f64(x))
    shape = a.shape
    a, b, x = a.reshape(-1), b.reshape(-1), x.reshape(-1)
    out = np.full(a.shape, np.nan)
    ok = (a > 0) & (b > 0) & (x >= 0) & (x <= 1)
    out[ok & (x == 0)] = 0.0
    out[ok & (x == 1)] = 1.0
    mid = ok & (x > 0) & (x < 1)
    if mid.any():
        av, bv, xv = a[mid], b[mid], x[mid]
        lbt = (_lgamma(av + bv) - _lgamma(av) - _lgamma(bv) + av * np.log(xv) + bv * np.log1p(-xv))
        front = np.exp(lbt)
        flip = xv >= (av + 1.0) / (av + bv + 2.0)
        ra = np.where(flip, bv, av)
        rb = np.where(flip, av, bv)
        rx = np.where(flip, 1.0 - xv, xv)
        val = front * _betacf(ra, rb, rx) / ra
        out[mid] = np.where(flip, 1.0 - val, val)
    return out.reshape(shape)


# -- Hurwitz zeta and polygamma ------------------------------------------------------------------

# B_2j / (2j)! for j = 1..12 (Bernoulli numbers over factorials, exact rationals as floats)
_B2J = [1 / 12, -1 / 720, 1 / 30240, -1 / 1209600, 1 / 47900160, -691 / 1307674368000,
        1 / 74724249600, -3617 / 10670622842880000, 43867 / 5109094217170944000,
        -174611 / 802857662698291200000, 77683 / 14101100039391805440000,
        -236364091 / 1693824136731743669452800000]


def zeta(s, q):
    """The Hurwitz zeta function sum_k (k + q)^-s (s > 1) by Euler-Maclaurin summation after
    N = 12 terms; inf at s == 1; at q a non-positive integer inf for an even integer s, nan
    otherwise (TensorFlow's convention); nan for s < 1 or for q < 0 with s not an integer."""
    s, q = np.broadcast_arrays(_f64(s), _f64(q))
    shape = s.shape
    s, q = s.reshape(-1), q.reshape(-1)
    out = np.full(s.shape, np.nan)
    out[s == 1] = np.inf
    pole = (s > 1) & (q <= 0) & (q == np.floor(q))
    out[pole & (s == np.floor(s)) & (np.mod(s, 2) == 0)] = np.inf
    ok = (s > 1) & ~pole & ((q > 0) | (s == np.floor(s)))
    if ok.any():
        sv, qv = s[ok], q[ok]
        n = 12
        with np.errstate(all="ignore"):
            # for q < 0 (s an integer) the sum over k with k + q < 0 is done term by term too
            start = np.where(qv < 0, np.ceil(-qv), 0.0)
            if start.size and start.max() > 1e6:
                raise ValueError(f"tf.math.zeta: q = {float(qv.min())} is too negative (more than a million terms "
                                 "before k + q > 0)")
            tot = np.zeros_like(sv)
            kmax = int(start.max()) + n
            for k in range(kmax):
                use = k < start + n
                tot += np.where(use, np.power(k + qv, -sv), 0.0)
            w = start + n + qv
            tot += w ** (1.0 - sv) / (sv - 1.0) + 0.5 * w ** -sv
            fac = sv * w ** (-sv - 1.0)               # s (s+1) ... (s+2j-2) w^(-s-2j+1)
            for j, b in enumerate(_B2J):
                tot += b * fac
                fac = fac * (sv + 2 * j + 1) * (sv + 2 * j + 2) / (w * w)
        out[ok] = tot
    return out.reshape(shape)


def polygamma(n, x, digamma64):
    """psi^(n)(x) = (-1)^(n+1) n! zeta(n + 1, x) for integer n >= 1, digamma for n = 0; nan for
    a non-integer or negative n."""
    n, x = np.broadcast_arrays(_f64(n), _f64(x))
    out = np.full(n.shape, np.nan)
    isint = (n == np.floor(n)) & (n >= 0)
    z = isint & (n == 0)
    out[z] = digamma64(x[z])
    pos = isint & (n > 0)
    if pos.any():
        nv = n[pos]
        fact = np.vectorize(lambda v: _m.gamma(v + 1.0), otypes=[np.float64])(nv)
        sign = np.where(nv % 2 == 1, 1.0, -1.0)
        with np.errstate(all="ignore"):
            out[pos] = sign * fact * zeta(nv + 1.0, x[pos])
    return out
