"""keras.io example "Actor Critic Method" (CartPole), imports changed: a two-output functional
model (softmax actor, linear critic), model(state) on single states inside one GradientTape per
episode, ops.convert_to_tensor / ops.expand_dims / ops.log of an indexed probability,
critic_value[0, 0], np.random.choice with np.squeeze(action_probs), Huber losses of scalars,
Python sum() of per-step loss tensors and apply_gradients. Gym's CartPole is replaced by a tiny
environment of the same interface: the state is 4 numbers, the right action is 1 when the first
two sum above zero, a wrong action ends the episode (at most 30 steps)."""
import numpy as np

import corenn as tf
from corenn import keras
from corenn.keras import layers, ops

# Configuration parameters for the whole setup
seed = 42
gamma = 0.99  # Discount factor for past rewards
max_steps_per_episode = 30
eps = np.finfo(np.float32).eps.item()  # Smallest number such that 1.0 + eps != 1.0
keras.utils.set_random_seed(seed)
np.random.seed(seed)


class TinyBalance:
    """reset() -> (state, info); step(action) -> (state, reward, done, truncated, info)."""

    def __init__(self, seed):
        self.rng = np.random.default_rng(seed)

    def reset(self):
        self.state = self.rng.normal(size=4).astype("float32")
        self.t = 0
        return self.state, {}

    def step(self, action):
        right = int(self.state[0] + self.state[1] > 0)
        self.t += 1
        done = action != right or self.t >= max_steps_per_episode
        self.state = self.rng.normal(size=4).astype("float32")
        return self.state, 1.0, done, False, {}


env = TinyBalance(seed)

num_inputs = 4
num_actions = 2
num_hidden = 32

inputs = layers.Input(shape=(num_inputs,))
common = layers.Dense(num_hidden, activation="relu")(inputs)
action = layers.Dense(num_actions, activation="softmax")(common)
critic = layers.Dense(1)(common)

model = keras.Model(inputs=inputs, outputs=[action, critic])

optimizer = keras.optimizers.Adam(learning_rate=0.01)
huber_loss = keras.losses.Huber()
action_probs_history = []
critic_value_history = []
rewards_history = []
running_reward = 0
episode_count = 0
first_rewards, episode_rewards = None, []

while True:  # Run until solved
    state = env.reset()[0]
    episode_reward = 0
    with tf.GradientTape() as tape:
        for timestep in range(1, max_steps_per_episode + 1):
            state = ops.convert_to_tensor(state)
            state = ops.expand_dims(state, 0)

            # Predict action probabilities and estimated future rewards
            # from environment state
            action_probs, critic_value = model(state)
            critic_value_history.append(critic_value[0, 0])

            # Sample action from action probability distribution
            action = np.random.choice(num_actions, p=np.squeeze(action_probs))
            action_probs_history.append(ops.log(action_probs[0, action]))

            # Apply the sampled action in our environment
            state, reward, done, *_ = env.step(action)
            rewards_history.append(reward)
            episode_reward += reward

            if done:
                break

        # Update running reward to check condition for solving
        running_reward = 0.05 * episode_reward + (1 - 0.05) * running_reward

        # Calculate expected value from rewards
        # - At each timestep what was the total reward received after that timestep
        # - Rewards in the past are discounted by multiplying them with gamma
        # - These are the labels for our critic
        returns = []
        discounted_sum = 0
        for r in rewards_history[::-1]:
            discounted_sum = r + gamma * discounted_sum
            returns.insert(0, discounted_sum)

        # Normalize
        returns = np.array(returns)
        returns = (returns - np.mean(returns)) / (np.std(returns) + eps)
        returns = returns.tolist()

        # Calculating loss values to update our network
        history = zip(action_probs_history, critic_value_history, returns)
        actor_losses = []
        critic_losses = []
        for log_prob, value, ret in history:
            # At this point in history, the critic estimated that we would get a
            # total reward = `value` in the future. We took an action with log probability
            # of `log_prob` and ended up receiving a total reward = `ret`.
            # The actor must be updated so that it predicts an action that leads to
            # high rewards (compared to critic's estimate) with high probability.
            diff = ret - value
            actor_losses.append(-log_prob * diff)  # actor loss

            # The critic must be updated so that it predicts a better estimate of
            # the future rewards.
            critic_losses.append(huber_loss(ops.expand_dims(value, 0), ops.expand_dims(ret, 0)))

        # Backpropagation
        loss_value = sum(actor_losses) + sum(critic_losses)
        grads = tape.gradient(loss_value, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))

        # Clear the loss and reward history
        action_probs_history.clear()
        critic_value_history.clear()
        rewards_history.clear()

    # Log details
    episode_count += 1
    episode_rewards.append(episode_reward)
    if episode_count % 20 == 0:
        template = "running reward: {:.2f} at episode {}"
        print(template.format(running_reward, episode_count))

    if running_reward > 12:  # Condition to consider the task solved (chance gives ~1)
        print("Solved at episode {}!".format(episode_count))
        break
    assert episode_count < 400, f"not solved: running reward {running_reward:.2f}"

assert np.mean(episode_rewards[:20]) < 4 and np.mean(episode_rewards[-10:]) > 8, \
    (np.mean(episode_rewards[:20]), np.mean(episode_rewards[-10:]))

# the trained actor picks the right action for new states
states = np.random.default_rng(0).normal(size=(200, 4)).astype("float32")
probs, values = model.predict(states, verbose=0)
assert probs.shape == (200, 2) and values.shape == (200, 1)
np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)
accuracy = np.mean(probs.argmax(axis=1) == (states[:, 0] + states[:, 1] > 0))
print("greedy accuracy", accuracy)
assert accuracy > 0.85, accuracy
