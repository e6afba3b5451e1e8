"""TensorFlow tutorial "Playing CartPole with the Actor-Critic method"
(tutorials/reinforcement_learning/actor_critic), imports changed: a subclassed `tf.keras.Model`
returning (logits, value), an episode loop over `tf.range(max_steps)` that fills
`tf.TensorArray(dynamic_size=True)`s with `write(t, ...)` and `stack()`s them, the environment
step wrapped in `tf.numpy_function(env_step, [action], [tf.float32, tf.int32, tf.int32])`,
`tf.random.categorical(logits, 1)[0, 0]` indexing `action_probs_t[0, action]`, `set_shape` on
the step's state, `if tf.cast(done, tf.bool): break`, discounted returns accumulated in a
TensorArray of `tf.shape(rewards)[0]` over reversed rewards, standardized with
`tf.math.reduce_std`, `Huber(reduction=tf.keras.losses.Reduction.SUM)`, and the whole step under
`@tf.function` with the model and optimizer as arguments. Gym's CartPole-v0 is replaced by the
same cart-pole physics written in NumPy (Barto et al. 1983, the equations gym uses), episodes cut
at 100 steps and training at 120 episodes; the check is that the running reward rose."""
import collections
import numpy as np
import corenn as tf

from corenn.keras import layers
from typing import Any, List, Sequence, Tuple


class CartPole:
    """gym's CartPole-v0 dynamics: reset() -> state; step(action) -> (state, reward, done, info)."""

    def __init__(self, seed):
        self.rng = np.random.default_rng(seed)

    def reset(self):
        self.state = self.rng.uniform(-0.05, 0.05, size=4)
        return self.state.astype(np.float32)

    def step(self, action):
        x, x_dot, theta, theta_dot = self.state
        force = 10.0 if int(action) == 1 else -10.0
        costheta, sintheta = np.cos(theta), np.sin(theta)
        total_mass, polemass_length, length = 1.1, 0.05, 0.5
        temp = (force + polemass_length * theta_dot**2 * sintheta) / total_mass
        thetaacc = (9.8 * sintheta - costheta * temp) / (length * (4.0 / 3.0 - 0.1 * costheta**2 / total_mass))
        xacc = temp - polemass_length * thetaacc * costheta / total_mass
        tau = 0.02
        x, x_dot = x + tau * x_dot, x_dot + tau * xacc
        theta, theta_dot = theta + tau * theta_dot, theta_dot + tau * thetaacc
        self.state = np.array([x, x_dot, theta, theta_dot])
        done = bool(abs(x) > 2.4 or abs(theta) > 12 * 2 * np.pi / 360)
        return self.state, 1.0, done, {}


# Create the environment
env = CartPole(0)

# Set seed for experiment reproducibility
seed = 42
tf.random.set_seed(seed)
np.random.seed(seed)

# Small epsilon value for stabilizing division operations
eps = np.finfo(np.float32).eps.item()


class ActorCritic(tf.keras.Model):
  """Combined actor-critic network."""

  def __init__(
      self,
      num_actions: int,
      num_hidden_units: int):
    """Initialize."""
    super().__init__()

    self.common = layers.Dense(num_hidden_units, activation="relu")
    self.actor = layers.Dense(num_actions)
    self.critic = layers.Dense(1)

  def call(self, inputs: tf.Tensor) -> Tuple[tf.Tensor, tf.Tensor]:
    x = self.common(inputs)
    return self.actor(x), self.critic(x)


num_actions = 2
num_hidden_units = 128

model = ActorCritic(num_actions, num_hidden_units)


# Wrap OpenAI Gym's `env.step` call as an operation in a TensorFlow function.
# This would allow it to be included in a callable TensorFlow graph.

def env_step(action: np.ndarray) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
  """Returns state, reward and done flag given an action."""

  state, reward, done, _ = env.step(action)
  return (state.astype(np.float32),
          np.array(reward, np.int32),
          np.array(done, np.int32))


def tf_env_step(action: tf.Tensor) -> List[tf.Tensor]:
  return tf.numpy_function(env_step, [action],
                           [tf.float32, tf.int32, tf.int32])


def run_episode(
    initial_state: tf.Tensor,
    model: tf.keras.Model,
    max_steps: int) -> List[tf.Tensor]:
  """Runs a single episode to collect training data."""

  action_probs = tf.TensorArray(dtype=tf.float32, size=0, dynamic_size=True)
  values = tf.TensorArray(dtype=tf.float32, size=0, dynamic_size=True)
  rewards = tf.TensorArray(dtype=tf.int32, size=0, dynamic_size=True)

  initial_state_shape = initial_state.shape
  state = initial_state

  for t in tf.range(max_steps):
    # Convert state into a batched tensor (batch size = 1)
    state = tf.expand_dims(state, 0)

    # Run the model and to get action probabilities and critic value
    action_logits_t, value = model(state)

    # Sample next action from the action probability distribution
    action = tf.random.categorical(action_logits_t, 1)[0, 0]
    action_probs_t = tf.nn.softmax(action_logits_t)

    # Store critic values
    values = values.write(t, tf.squeeze(value))

    # Store log probability of the action chosen
    action_probs = action_probs.write(t, action_probs_t[0, action])

    # Apply action to the environment to get next state and reward
    state, reward, done = tf_env_step(action)
    state.set_shape(initial_state_shape)

    # Store reward
    rewards = rewards.write(t, reward)

    if tf.cast(done, tf.bool):
      break

  action_probs = action_probs.stack()
  values = values.stack()
  rewards = rewards.stack()

  return action_probs, values, rewards


def get_expected_return(
    rewards: tf.Tensor,
    gamma: float,
    standardize: bool = True) -> tf.Tensor:
  """Compute expected returns per timestep."""

  n = tf.shape(rewards)[0]
  returns = tf.TensorArray(dtype=tf.float32, size=n)

  # Start from the end of `rewards` and accumulate reward sums
  # into the `returns` array
  rewards = tf.cast(rewards[::-1], dtype=tf.float32)
  discounted_sum = tf.constant(0.0)
  discounted_sum_shape = discounted_sum.shape
  for i in tf.range(n):
    reward = rewards[i]
    discounted_sum = reward + gamma * discounted_sum
    discounted_sum.set_shape(discounted_sum_shape)
    returns = returns.write(i, discounted_sum)
  returns = returns.stack()[::-1]

  if standardize:
    returns = ((returns - tf.math.reduce_mean(returns)) /
               (tf.math.reduce_std(returns) + eps))

  return returns


# the returns against the closed form G_t = sum_k gamma^k r_{t+k}, before standardizing
check = np.asarray(get_expected_return(tf.constant([1, 1, 1], dtype=tf.int32), 0.5, standardize=False))
np.testing.assert_allclose(check, [1.75, 1.5, 1.0], rtol=1e-6)

huber_loss = tf.keras.losses.Huber(reduction=tf.keras.losses.Reduction.SUM)


def compute_loss(
    action_probs: tf.Tensor,
    values: tf.Tensor,
    returns: tf.Tensor) -> tf.Tensor:
  """Computes the combined actor-critic loss."""

  advantage = returns - values

  action_log_probs = tf.math.log(action_probs)
  actor_loss = -tf.math.reduce_sum(action_log_probs * advantage)

  critic_loss = huber_loss(values, returns)

  return actor_loss + critic_loss


optimizer = tf.keras.optimizers.Adam(learning_rate=0.01)


@tf.function
def train_step(
    initial_state: tf.Tensor,
    model: tf.keras.Model,
    optimizer: tf.keras.optimizers.Optimizer,
    gamma: float,
    max_steps_per_episode: int) -> tf.Tensor:
  """Runs a model training step."""

  with tf.GradientTape() as tape:

    # Run the model for one episode to collect training data
    action_probs, values, rewards = run_episode(
        initial_state, model, max_steps_per_episode)

    # Calculate expected returns
    returns = get_expected_return(rewards, gamma)

    # Convert training data to appropriate TF tensor shapes
    action_probs, values, returns = [
        tf.expand_dims(x, 1) for x in [action_probs, values, returns]]

    # Calculating loss values to update our network
    loss = compute_loss(action_probs, values, returns)

  # Compute the gradients from the loss
  grads = tape.gradient(loss, model.trainable_variables)

  # Apply the gradients to the model's parameters
  optimizer.apply_gradients(zip(grads, model.trainable_variables))

  episode_reward = tf.math.reduce_sum(rewards)

  return episode_reward


max_episodes = 120
max_steps_per_episode = 100

# Cartpole-v0 is considered solved if average reward is >= 195 over 100
# consecutive trials
reward_threshold = 195
running_reward = 0

# Discount factor for future rewards
gamma = 0.99

episode_rewards = []
for i in range(max_episodes):
    initial_state = tf.constant(env.reset(), dtype=tf.float32)
    episode_reward = int(train_step(
        initial_state, model, optimizer, gamma, max_steps_per_episode))
    episode_rewards.append(episode_reward)

    running_reward = episode_reward*0.01 + running_reward*.99

    if i % 20 == 0:
      print(f'Episode {i}: reward {episode_reward}, running reward {running_reward:.2f}')

    if running_reward > reward_threshold:
        break

print(f'\nStopped at episode {i}: average reward: {running_reward:.2f}!')
first, last = np.mean(episode_rewards[:20]), np.mean(episode_rewards[-20:])
print("mean reward of the first 20 episodes:", first, "of the last 20:", last)
assert last > 1.5 * first and last > 40, (first, last)
